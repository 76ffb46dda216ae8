// Run-time choice of the product kernels (see kernel_path.hpp).
#include "src/numerics/kernel_path.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "src/errors.hpp"

namespace mnist {
namespace {

constexpr int kUnset = -1;
std::atomic<int> active{kUnset};

}  // namespace

KernelPath kernel_path_named(const std::string& name, const std::vector<KernelPath>& supported) {
    for (KernelPath p : {KernelPath::avx512, KernelPath::avx2, KernelPath::plain}) {
        if (name != kernel_path_name(p)) continue;
        if (std::find(supported.begin(), supported.end(), p) != supported.end()) return p;
        std::string list;
        for (KernelPath q : supported) list += std::string(list.empty() ? "" : ", ") + kernel_path_name(q);
        throw ConfigError("MNIST_KERNEL: expected a kernel path this CPU supports (" + list + "), found \"" + name +
                          "\", which needs " + (p == KernelPath::avx512 ? "AVX-512 F/VL/BW/DQ" : "AVX2 and FMA") +
                          ", which this CPU lacks");
    }
    throw ConfigError("MNIST_KERNEL: expected avx512, avx2 or plain, found \"" + name + "\"");
}

KernelPath kernel_path_named(const std::string& name) { return kernel_path_named(name, supported_kernel_paths()); }

std::vector<KernelPath> supported_kernel_paths() {
    std::vector<KernelPath> paths;
    for (KernelPath p : {KernelPath::avx512, KernelPath::avx2, KernelPath::plain})
        if (cpu_supports(p)) paths.push_back(p);
    return paths;
}

namespace {
KernelPath from_environment() {
    const char* env = std::getenv("MNIST_KERNEL");
    if (env == nullptr || *env == '\0') return best_kernel_path();
    return kernel_path_named(env);
}
}  // namespace

const char* kernel_path_name(KernelPath path) {
    switch (path) {
        case KernelPath::avx512: return "avx512";
        case KernelPath::avx2: return "avx2";
        case KernelPath::plain: break;
    }
    return "plain";
}

bool cpu_supports(KernelPath path) {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    switch (path) {
        case KernelPath::avx512:
            return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
        case KernelPath::avx2: return avx2;
        case KernelPath::plain: break;
    }
    return true;
}

KernelPath best_kernel_path() {
    if (cpu_supports(KernelPath::avx512)) return KernelPath::avx512;
    if (cpu_supports(KernelPath::avx2)) return KernelPath::avx2;
    return KernelPath::plain;
}

KernelPath kernel_path() {
    int p = active.load(std::memory_order_relaxed);
    if (p == kUnset) {
        p = int(from_environment());
        active.store(p, std::memory_order_relaxed);
    }
    return KernelPath(p);
}

void set_kernel_path(KernelPath path) {
    if (!cpu_supports(path))
        throw ConfigError(std::string("kernel path: expected one this CPU supports, found ") + kernel_path_name(path));
    active.store(int(path), std::memory_order_relaxed);
}

}  // namespace mnist
