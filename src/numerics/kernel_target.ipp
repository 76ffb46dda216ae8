// Opens the vector instructions of this kernel path (MNIST_KERNEL_ISA: 2 AVX-512, 1 AVX2/FMA, 0
// plain) for the functions defined from here on; kernel_target_end.ipp closes them. Include after
// every library header: functions those headers define must stay baseline x86-64. GCC takes a
// target pragma; clang (the fuzz build) an attribute applied to every function that follows.
#if MNIST_KERNEL_ISA != 0 && MNIST_KERNEL_ISA != 1 && MNIST_KERNEL_ISA != 2
#error "MNIST_KERNEL_ISA must be 0, 1 or 2"
#endif
#if defined(__clang__) && MNIST_KERNEL_ISA == 2
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c"))), apply_to = function)
#elif defined(__clang__) && MNIST_KERNEL_ISA == 1
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c"))), apply_to = function)
#elif MNIST_KERNEL_ISA == 2
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c")
#elif MNIST_KERNEL_ISA == 1
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c")
#endif
