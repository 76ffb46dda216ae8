// Opens the vector instructions of this kernel path (MNIST_KERNEL_ISA: 2 AVX-512, 1 AVX2/FMA, 0
// plain) for the functions defined from here on; kernel_target_end.ipp closes them. Include after
// every library header: functions those headers define must stay baseline x86-64. (Clang ignores
// these pragmas; under clang, CMakeLists.txt compiles the two vector files with whole-file flags.)
#if MNIST_KERNEL_ISA == 2
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c")
#elif MNIST_KERNEL_ISA == 1
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c")
#elif MNIST_KERNEL_ISA != 0
#error "MNIST_KERNEL_ISA must be 0, 1 or 2"
#endif
