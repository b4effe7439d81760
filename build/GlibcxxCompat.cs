// MSBuild inline task, compiled by RoslynCodeTaskFactory from DiffTransformer.targets beside it (the repository's
// build/, and the DiffTransformer package's buildTransitive/, which ships both files).
//
// TorchSharp 0.107's libLibTorchSharp.so was linked against GCC 13's libstdc++ and so records a
// requirement on the symbol version GLIBCXX_3.4.32. The only symbol carrying that version is
// std::ios_base_library_init(), a marker that GCC 13's <iostream> declares but nothing calls (no
// relocation refers to it). On systems whose libstdc++ predates GCC 13 (Debian 12, Ubuntu 22.04)
// the dynamic loader refuses the whole library because of that one requirement.
//
// This task copies the library and marks that single version requirement VER_FLG_WEAK in the
// ELF .gnu.version_r section: the loader then tolerates its absence, and every other requirement
// stays strict. It does nothing when the system's libstdc++ already provides the version, unless Always is set
// (for outputs that will run on other systems than the one that builds them).
#nullable enable
using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class PatchGlibcxxRequirement : Task
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    [Required] public string Source { get; set; } = "";
    [Required] public string Destination { get; set; } = "";
    [Required] public string VersionName { get; set; } = "";

    /// <summary>Patch even when this system's libstdc++ provides VersionName.</summary>
    public bool Always { get; set; }

    /// <summary>True when Destination holds a patched copy that should replace Source.</summary>
    [Output] public bool Patched { get; set; }

    public override bool Execute()
    {
        try
        {
            string? provider = Always ? null : FindProvidingLibstdcxx();
            if (provider != null)
            {
                Log.LogMessage(MessageImportance.Low, $"{provider} provides {VersionName}; {Path.GetFileName(Source)} is used unpatched.");
                return true;
            }
            if (File.Exists(Destination) && File.GetLastWriteTimeUtc(Destination) >= File.GetLastWriteTimeUtc(Source))
            {
                Patched = true; // up to date from an earlier build
                return true;
            }
            byte[] elf = File.ReadAllBytes(Source);
            int changed = MarkVersionWeak(elf, VersionName);
            if (changed == 0)
            {
                Log.LogMessage(MessageImportance.Low, $"{Source} does not require {VersionName}; nothing to patch.");
                return true;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(Destination)!);
            string tmp = Destination + ".tmp";
            File.WriteAllBytes(tmp, elf);
            if (File.Exists(Destination)) File.Delete(Destination);
            File.Move(tmp, Destination);
            Patched = true;
            Log.LogMessage(MessageImportance.High, (Always ? "DiffTransformerGlibcxxCompat=always" : $"libstdc++ here lacks {VersionName}") +
                $": using a copy of {Path.GetFileName(Source)} with that requirement marked weak ({Destination}).");
            return true;
        }
        catch (Exception e)
        {
            Log.LogError($"Could not prepare {Source} for this system's libstdc++: {e.Message}");
            return false;
        }
    }

    /// <summary>Path of a libstdc++.so.6 on the loader's search path that defines VersionName, or null.</summary>
    string? FindProvidingLibstdcxx()
    {
        var candidates = new System.Collections.Generic.List<string>();
        try
        {
            var psi = new ProcessStartInfo(File.Exists("/sbin/ldconfig") ? "/sbin/ldconfig" : "ldconfig", "-p")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            foreach (var line in output.Split('\n'))
            {
                int arrow = line.IndexOf("=>", StringComparison.Ordinal);
                if (line.TrimStart().StartsWith("libstdc++.so.6", StringComparison.Ordinal) && arrow > 0)
                    candidates.Add(line.Substring(arrow + 2).Trim());
            }
        }
        catch (Exception)
        {
            // no ldconfig: fall back to the usual locations
        }
        candidates.AddRange(new[] {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6" });

        byte[] needle = Encoding.ASCII.GetBytes(VersionName + "\0");
        foreach (var path in candidates)
        {
            if (!File.Exists(path)) continue;
            byte[] bytes = File.ReadAllBytes(path);
            if (IndexOf(bytes, needle) >= 0) return path;
            return null; // the first one found is the one the loader takes
        }
        return null;
    }

    /// <summary>Sets VER_FLG_WEAK on every Vernaux entry named <paramref name="version"/>; returns how many.</summary>
    static int MarkVersionWeak(byte[] elf, string version)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF is supported");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            uint type = BitConverter.ToUInt32(elf, sh + 4);
            if (type != ShtGnuVerneed) continue;
            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            uint link = BitConverter.ToUInt32(elf, sh + 0x28);
            uint count = BitConverter.ToUInt32(elf, sh + 0x2C); // sh_info: number of Verneed entries
            int strsh = checked((int)shoff + (int)link * shentsize);
            int strtab = checked((int)BitConverter.ToUInt64(elf, strsh + 0x18));

            int vn = offset;
            for (uint n = 0; n < count; n++)
            {
                int vnCnt = BitConverter.ToUInt16(elf, vn + 2);
                int aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
                for (int a = 0; a < vnCnt; a++)
                {
                    uint nameOff = BitConverter.ToUInt32(elf, aux + 8);
                    if (ReadCString(elf, strtab + (int)nameOff) == version)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        flags |= VerFlgWeak;
                        elf[aux + 4] = (byte)(flags & 0xff);
                        elf[aux + 5] = (byte)(flags >> 8);
                        changed++;
                    }
                    uint next = BitConverter.ToUInt32(elf, aux + 12);
                    if (next == 0) break;
                    aux += (int)next;
                }
                uint vnNext = BitConverter.ToUInt32(elf, vn + 12);
                if (vnNext == 0) break;
                vn += (int)vnNext;
            }
        }
        return changed;
    }

    static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    static string ReadCString(byte[] bytes, int start)
    {
        int end = start;
        while (end < bytes.Length && bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, start, end - start);
    }
}
