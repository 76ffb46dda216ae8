// Closes what kernel_target.ipp opened.
#if MNIST_KERNEL_ISA >= 1
#pragma GCC pop_options
#endif
