// Verbs set libtorch's thread count, which is process-wide (and the bench reports print it): run the tests one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
