// libtorch's default device and thread pool are process-wide, and the machine has two cores: run tests one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
