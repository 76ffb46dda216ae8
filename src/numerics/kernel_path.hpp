// Which vector kernels the products run: chosen at run time from the CPU, so one binary runs on
// every x86-64 machine. Every path gives the same bits (each output element one FMA chain over k in
// plain order from +0), so the choice never shows in a result, only in the speed.
#pragma once
#include <string>
#include <vector>

namespace mnist {

enum class KernelPath { plain, avx2, avx512 };

// "plain", "avx2" or "avx512".
const char* kernel_path_name(KernelPath path);

// True when this CPU can run the path (plain: always; avx2: AVX2 + FMA; avx512: AVX-512 F/VL/BW/DQ).
bool cpu_supports(KernelPath path);

// The fastest path this CPU supports.
KernelPath best_kernel_path();

// The paths this CPU supports, fastest first (plain always last).
std::vector<KernelPath> supported_kernel_paths();

// The path a value of MNIST_KERNEL names (avx512, avx2 or plain), checked against this CPU's paths
// (or `supported`, as a CPU without some would have them).
// throws ConfigError when the value names no path or an unsupported one (the message names the
// variable, the value, and the allowed or supported values).
KernelPath kernel_path_named(const std::string& value);
KernelPath kernel_path_named(const std::string& value, const std::vector<KernelPath>& supported);

// The path the products run. The first call chooses it: the environment variable MNIST_KERNEL
// (avx512, avx2 or plain) when set, else best_kernel_path().
// throws ConfigError when MNIST_KERNEL names no path or one this CPU lacks.
KernelPath kernel_path();

// Forces a path (tests: the same work under each path).
// throws ConfigError when this CPU lacks it.
void set_kernel_path(KernelPath path);

}  // namespace mnist
