using System.Reflection;
using System.Reflection.Emit;

namespace DiffTransformer.Tests.Layout;

/// <summary>
/// The library's floors (docs/ARCHITECTURE.md): a folder may use its own floor's namespace only if it is its own, and
/// any lower floor's. Folders on one floor do not use each other.
/// </summary>
internal static class Floors
{
    public const string Root = "DiffTransformer";

    /// <summary>Folder → floor, bottom (0) to top.</summary>
    public static readonly IReadOnlyDictionary<string, int> Library = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["IO"] = 0, ["Kernels"] = 0,
        ["Model"] = 1, ["Data"] = 1,
        ["Tasks"] = 2, ["Interop"] = 2,
        ["Training"] = 3, ["Inference"] = 3,
        ["Benchmarks"] = 4, ["Evaluation"] = 4,
        ["Study"] = 5,
    };

    /// <summary>The folder a namespace belongs to: its first segment after "DiffTransformer" ("" for the root namespace itself).</summary>
    public static string? FolderOf(string? ns)
    {
        if (ns is null || !(ns == Root || ns.StartsWith(Root + ".", StringComparison.Ordinal))) return null;
        if (ns == Root) return "";
        string rest = ns[(Root.Length + 1)..];
        int dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    /// <summary>Whether code in folder <paramref name="from"/> may use folder <paramref name="to"/> under <paramref name="floors"/>.</summary>
    public static bool MayUse(string from, string to, IReadOnlyDictionary<string, int> floors) =>
        from == to || (floors.TryGetValue(from, out int a) && floors.TryGetValue(to, out int b) && b < a);

    /// <summary>
    /// Every use of a library type by another library type that the floors forbid, as "A uses B (why)": base types,
    /// interfaces, fields, signatures and every type, method and field token in the IL of every method body, so a
    /// fully qualified name or a helper call counts as much as a using directive. Types in the root namespace (no
    /// folder) and folders not in <paramref name="floors"/> are violations too.
    /// </summary>
    public static List<string> Violations(Assembly assembly, IReadOnlyDictionary<string, int> floors)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes())
        {
            string? from = FolderOf(type.Namespace);
            if (from is null) continue;                                     // compiler-generated, outside our namespaces
            if (!floors.ContainsKey(from))
            {
                found.Add($"{type.FullName} is in namespace {type.Namespace}, which is not a folder with a floor");
                continue;
            }
            foreach (var used in References(type))
            {
                string? to = FolderOf(used.Namespace);
                if (to is null || MayUse(from, to, floors)) continue;
                found.Add($"{Name(type)} ({from}, floor {floors[from]}) uses {Name(used)} ({(to == "" ? "root namespace" : to)}" +
                          (floors.TryGetValue(to, out int f) ? $", floor {f})" : ", no floor)"));
            }
        }
        return [.. found];
    }

    /// <summary>The library types <paramref name="type"/> refers to (outermost declaring types, generic arguments unwrapped).</summary>
    public static HashSet<Type> References(Type type)
    {
        var refs = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                foreach (var a in t.GetGenericArguments()) Add(a);
                Add(t.GetGenericTypeDefinition());
                return;
            }
            if (t.IsGenericParameter) return;
            while (t.DeclaringType is not null) t = t.DeclaringType;
            if (t != type) refs.Add(t);
        }
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        foreach (var f in type.GetFields(all)) Add(f.FieldType);
        foreach (var p in type.GetProperties(all)) Add(p.PropertyType);
        foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
        {
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
            foreach (var member in IlMembers(m))
            {
                switch (member)
                {
                    case Type t: Add(t); break;
                    case FieldInfo f: Add(f.DeclaringType); Add(f.FieldType); break;
                    case MethodBase called:
                        Add(called.DeclaringType);
                        if (called is MethodInfo ci) { Add(ci.ReturnType); if (ci.IsGenericMethod) foreach (var a in ci.GetGenericArguments()) Add(a); }
                        break;
                }
            }
        }
        return refs;
    }

    private static string Name(Type t) => $"{t.Namespace}.{t.Name}";

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The types, fields and methods whose tokens appear in a method body's IL.</summary>
    private static IEnumerable<MemberInfo> IlMembers(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var module = method.Module;
        var typeArgs = method.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            short value = il[pos++];
            if (value == 0xFE) value = (short)(0xFE00 | il[pos++]);
            var op = OpCodesByValue[value];
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, pos),
                _ => 4,
            };
            if (op.OperandType is OperandType.InlineType or OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok)
            {
                int token = BitConverter.ToInt32(il, pos);
                MemberInfo? member = null;
                try
                {
                    member = module.ResolveMember(token, typeArgs, methodArgs);
                }
                catch (ArgumentException)
                {
                    // a token into another module's generic context that this module cannot resolve: not one of ours
                }
                if (member is not null) yield return member;
            }
            pos += size;
        }
    }
}
