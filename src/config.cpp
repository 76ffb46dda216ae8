// The training configuration's rules and its JSON form. validate() states every allowed range once,
// in the words of the command-line option; to_json/config_from_json store the configuration in each
// checkpoint (doubles written so they read back bit-for-bit), and the two comparison functions tell a
// resumed run which saved settings it may not change and which changes make it differ from the original.
#include "src/config.hpp"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "src/text.hpp"
#include "src/var_map.hpp"

namespace mnist {

namespace {

using ojson = nlohmann::ordered_json;

constexpr int kMaxWidth = 1'000'000;

std::string num(double x) { return exact_decimal(x); }

std::string num(int64_t x) {
    return std::to_string(x);
}
std::string num(uint64_t x) {
    return std::to_string(x);
}
std::string num(bool x) {
    return x ? "true" : "false";
}

[[noreturn]] void bad(const std::string& option, const std::string& rule, const std::string& found) {
    throw ConfigError("--" + option + " must be " + rule + ", got " + found);
}

void require_probability(const char* option, double p) {
    if (!(std::isfinite(p) && p > 0.0 && p <= 1.0)) bad(option, "in (0, 1]", num(p));
}
void require_unit_interval(const char* option, double x) {
    if (!(std::isfinite(x) && x >= 0.0 && x < 1.0)) bad(option, "in [0, 1)", num(x));
}
void require_positive(const char* option, double x) {
    if (!(std::isfinite(x) && x > 0.0)) bad(option, "a finite number greater than 0", num(x));
}
void require_non_negative(const char* option, double x) {
    if (!(std::isfinite(x) && x >= 0.0)) bad(option, "a finite number at least 0", num(x));
}
void require_at_least(const char* option, int64_t x, int64_t least) {
    if (x < least) bad(option, "at least " + std::to_string(least), num(x));
}

}  // namespace

void validate(const TrainConfig& c) {
    if (c.data_dir.empty()) bad("data_dir", "a directory", "an empty string");
    if (c.ckpt_dir.empty()) bad("ckpt_dir", "a directory", "an empty string");
    if (c.hidden.empty()) bad("hidden", "a list of at least one layer width", "an empty list");
    for (size_t i = 0; i < c.hidden.size(); ++i)
        if (c.hidden[i] < 1 || c.hidden[i] > kMaxWidth)
            throw ConfigError("--hidden widths must be in [1, " + std::to_string(kMaxWidth) + "], got " +
                              std::to_string(c.hidden[i]) + " for layer " + std::to_string(i + 1) + " of " +
                              widths_text(c.hidden));
    require_probability("keep_prob_input", c.keep_prob_input);
    require_probability("keep_prob_hidden", c.keep_prob_hidden);
    require_positive("learning_rate", c.learning_rate);
    require_unit_interval("decay", c.decay);
    require_unit_interval("momentum", c.momentum);
    require_non_negative("epsilon", c.epsilon);
    require_at_least("batch_size", c.batch_size, 1);
    require_at_least("epochs", c.epochs, 0);
    require_at_least("validation_size", c.validation_size, 0);
    require_at_least("max_to_keep", c.max_to_keep, 0);
    require_positive("keep_checkpoint_every_n_hours", c.keep_checkpoint_every_n_hours);
    require_at_least("threads", c.threads, 0);
    require_at_least("save_every_steps", c.save_every_steps, 0);
    require_non_negative("save_every_secs", c.save_every_secs);
    if (c.init_from.empty() && !c.init_map.empty())
        throw ConfigError("--init_map needs --init_from (the file to take the tensors from), got --init_map '" +
                          c.init_map + "' alone");
    if (c.init_from.empty() && c.init_optimizer)
        throw ConfigError("--init_optimizer needs --init_from (the file to take the slots from)");
    if (!c.init_map.empty()) parse_var_map(c.init_map, "init_map");
}

namespace {

// nlohmann's double printer compares the value with 0, which flushing denormals to zero (DAZ, set by
// numerics/gemm on the training threads) makes true for every denormal: a setting such as epsilon
// 5e-324 would be written as 0. Writing and reading the configuration clears FTZ/DAZ meanwhile.
struct ExactDenormals {
#if defined(__SSE__)
    unsigned saved = _mm_getcsr();
    ExactDenormals() { _mm_setcsr(saved & ~0x8040u); }
    ~ExactDenormals() { _mm_setcsr(saved); }
#endif
};

}  // namespace

std::string to_json(const TrainConfig& c) {
    const ExactDenormals exact;
    // Key order is the struct's order, so the stored text diffs cleanly between checkpoints.
    ojson j = ojson::object();
    j["data_dir"] = c.data_dir;
    j["ckpt_dir"] = c.ckpt_dir;
    j["hidden"] = c.hidden;
    j["keep_prob_input"] = c.keep_prob_input;
    j["keep_prob_hidden"] = c.keep_prob_hidden;
    j["learning_rate"] = c.learning_rate;
    j["decay"] = c.decay;
    j["momentum"] = c.momentum;
    j["epsilon"] = c.epsilon;
    j["batch_size"] = c.batch_size;
    j["epochs"] = c.epochs;
    j["seed"] = c.seed;
    j["shuffle"] = c.shuffle;
    j["validation_size"] = c.validation_size;
    j["max_to_keep"] = c.max_to_keep;
    j["keep_checkpoint_every_n_hours"] = c.keep_checkpoint_every_n_hours;
    j["threads"] = c.threads;
    j["save_every_steps"] = c.save_every_steps;
    j["save_every_secs"] = c.save_every_secs;
    j["init_from"] = c.init_from;
    j["init_map"] = c.init_map;
    j["init_optimizer"] = c.init_optimizer;
    j["data_fingerprint"] = c.data_fingerprint;
    j["allow_other_data"] = c.allow_other_data;
    // nlohmann prints doubles with the shortest text that round-trips; non-finite values would become
    // null, which validate() rules out.
    return j.dump();
}

namespace {

const ojson& field(const ojson& j, const char* name) {
    if (!j.contains(name)) throw ConfigError(std::string("config JSON: field \"") + name + "\" is missing");
    return j[name];
}

[[noreturn]] void mistyped(const char* name, const char* expected, const ojson& v) {
    std::string found = v.dump(-1, ' ', false, ojson::error_handler_t::replace);
    if (found.size() > 80) found = found.substr(0, 77) + "...";
    throw ConfigError(std::string("config JSON: field \"") + name + "\": expected " + expected + ", found " + found);
}

std::string get_string(const ojson& j, const char* name) {
    const ojson& v = field(j, name);
    if (!v.is_string()) mistyped(name, "a string", v);
    return v.get<std::string>();
}

double get_double(const ojson& j, const char* name) {
    const ojson& v = field(j, name);
    // 1e999 parses as infinity, which would be written back as null: refused here, as validate() would.
    if (!v.is_number() || !std::isfinite(v.get<double>())) mistyped(name, "a finite number", v);
    return v.get<double>();
}

bool get_bool(const ojson& j, const char* name) {
    const ojson& v = field(j, name);
    if (!v.is_boolean()) mistyped(name, "true or false", v);
    return v.get<bool>();
}

// An integer in [lo, hi], from a JSON value that nlohmann may hold as signed or unsigned.
bool integer_in(const ojson& v, int64_t lo, int64_t hi, int64_t& out) {
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(hi)) return false;
        out = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
        out = v.get<int64_t>();
    } else {
        return false;
    }
    return out >= lo && out <= hi;
}

int64_t get_int64(const ojson& j, const char* name) {
    const ojson& v = field(j, name);
    int64_t out = 0;
    if (!integer_in(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), out))
        mistyped(name, "a 64-bit integer", v);
    return out;
}

int get_int(const ojson& j, const char* name) {
    const ojson& v = field(j, name);
    int64_t out = 0;
    if (!integer_in(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(), out))
        mistyped(name, "a 32-bit integer", v);
    return static_cast<int>(out);
}

uint64_t get_uint64(const ojson& j, const char* name) {
    const ojson& v = field(j, name);
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
    mistyped(name, "a non-negative 64-bit integer", v);
}

// Fields added after the first release: absent in older checkpoints' configurations.
std::string get_string_or(const ojson& j, const char* name, const std::string& otherwise) {
    return j.contains(name) ? get_string(j, name) : otherwise;
}
bool get_bool_or(const ojson& j, const char* name, bool otherwise) {
    return j.contains(name) ? get_bool(j, name) : otherwise;
}

std::vector<int> get_widths(const ojson& j, const char* name) {
    const ojson& v = field(j, name);
    if (!v.is_array()) mistyped(name, "an array of integers", v);
    std::vector<int> out;
    for (const ojson& e : v) {
        int64_t w = 0;
        if (!integer_in(e, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(), w))
            mistyped(name, "an array of 32-bit integers", v);
        out.push_back(static_cast<int>(w));
    }
    return out;
}

}  // namespace

TrainConfig config_from_json(const std::string& text) {
    const ExactDenormals exact;
    if (json_depth(text) > kMaxJsonDepth)
        throw ConfigError("config JSON: nested deeper than " + std::to_string(kMaxJsonDepth) +
                          " levels, expected an object of numbers, strings and one list");
    ojson j;
    try {
        j = ojson::parse(text);
    } catch (const ojson::exception& e) {
        throw ConfigError("config JSON: not valid JSON: " + excerpt(e.what(), 200));
    }
    if (!j.is_object())
        throw ConfigError(std::string("config JSON: expected an object, found ") + j.type_name());
    // Unknown keys are ignored so that a newer program's checkpoints stay readable here.
    TrainConfig c;
    c.data_dir = get_string(j, "data_dir");
    c.ckpt_dir = get_string(j, "ckpt_dir");
    c.hidden = get_widths(j, "hidden");
    c.keep_prob_input = get_double(j, "keep_prob_input");
    c.keep_prob_hidden = get_double(j, "keep_prob_hidden");
    c.learning_rate = get_double(j, "learning_rate");
    c.decay = get_double(j, "decay");
    c.momentum = get_double(j, "momentum");
    c.epsilon = get_double(j, "epsilon");
    c.batch_size = get_int64(j, "batch_size");
    c.epochs = get_int64(j, "epochs");
    c.seed = get_uint64(j, "seed");
    c.shuffle = get_bool(j, "shuffle");
    c.validation_size = get_int64(j, "validation_size");
    c.max_to_keep = get_int64(j, "max_to_keep");
    c.keep_checkpoint_every_n_hours = get_double(j, "keep_checkpoint_every_n_hours");
    c.threads = get_int(j, "threads");
    c.save_every_steps = get_int64(j, "save_every_steps");
    c.save_every_secs = get_double(j, "save_every_secs");
    c.init_from = get_string_or(j, "init_from", "");
    c.init_map = get_string_or(j, "init_map", "");
    c.init_optimizer = get_bool_or(j, "init_optimizer", false);
    c.data_fingerprint = get_string_or(j, "data_fingerprint", "");
    c.allow_other_data = get_bool_or(j, "allow_other_data", false);
    return c;
}

namespace {

void compare(std::vector<std::string>& out, const char* name, const std::string& saved,
             const std::string& requested) {
    if (saved != requested)
        out.push_back(std::string(name) + ": checkpoint has " + saved + ", requested " + requested);
}

}  // namespace

std::vector<std::string> incompatible_settings(const TrainConfig& saved, const TrainConfig& requested) {
    std::vector<std::string> out;
    compare(out, "hidden", widths_text(saved.hidden), widths_text(requested.hidden));
    compare(out, "batch_size", num(saved.batch_size), num(requested.batch_size));
    compare(out, "validation_size", num(saved.validation_size), num(requested.validation_size));
    compare(out, "seed", num(saved.seed), num(requested.seed));
    compare(out, "shuffle", num(saved.shuffle), num(requested.shuffle));
    return out;
}

std::vector<std::string> changed_settings(const TrainConfig& saved, const TrainConfig& requested) {
    // Doubles are compared through their round-trip text, which is equality of the values.
    std::vector<std::string> out;
    compare(out, "keep_prob_input", num(saved.keep_prob_input), num(requested.keep_prob_input));
    compare(out, "keep_prob_hidden", num(saved.keep_prob_hidden), num(requested.keep_prob_hidden));
    compare(out, "learning_rate", num(saved.learning_rate), num(requested.learning_rate));
    compare(out, "decay", num(saved.decay), num(requested.decay));
    compare(out, "momentum", num(saved.momentum), num(requested.momentum));
    compare(out, "epsilon", num(saved.epsilon), num(requested.epsilon));
    return out;
}

}  // namespace mnist
