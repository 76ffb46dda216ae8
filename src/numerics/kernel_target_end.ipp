// Closes what kernel_target.ipp opened.
#if defined(__clang__) && MNIST_KERNEL_ISA >= 1
#pragma clang attribute pop
#elif MNIST_KERNEL_ISA >= 1
#pragma GCC pop_options
#endif
