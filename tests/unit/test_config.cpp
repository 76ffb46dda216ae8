// Tests of the training configuration: each rule of validate() with the option named in the message,
// the exact JSON round trip (awkward doubles, a 64-bit seed), the errors for missing and mistyped JSON
// fields, and the lines that tell a resumed run what it may not or did change.
#include <catch2/catch.hpp>

#include <xmmintrin.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "src/config.hpp"
#include "src/text.hpp"

using namespace mnist;
using Catch::Matchers::Contains;

namespace {

bool same_bits(double a, double b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

// A config whose doubles have no short decimal form.
TrainConfig awkward() {
    TrainConfig c;
    c.data_dir = "data/with \"quotes\" and \\ backslash/ünïcödé";
    c.ckpt_dir = "/tmp/ckpt dir";
    c.hidden = {800, 300, 7};
    c.keep_prob_input = 0.1;
    c.keep_prob_hidden = 1 / 3.0;
    c.learning_rate = 1e-10;
    c.decay = 0.9999999999999999;
    c.momentum = 2.0 / 3.0;
    c.epsilon = 5e-324;  // the smallest subnormal
    c.batch_size = 3;
    c.epochs = 0;
    c.seed = std::numeric_limits<uint64_t>::max();
    c.shuffle = false;
    c.validation_size = 0;
    c.max_to_keep = 0;
    c.keep_checkpoint_every_n_hours = 0.1 + 0.2;
    c.threads = 3;
    c.save_every_steps = 1000;
    c.save_every_secs = 1.7976931348623157e308;
    c.init_from = "runs/small/model-429.safetensors";
    c.init_map = "w_h=w_h,w_h2";
    c.init_optimizer = true;
    return c;
}

}  // namespace

TEST_CASE("config: the defaults are valid", "[config]") {
    REQUIRE_NOTHROW(validate(TrainConfig{}));
}

TEST_CASE("config: boundary values are valid", "[config]") {
    TrainConfig c;
    c.keep_prob_input = 1.0;
    c.keep_prob_hidden = 1e-300;
    c.decay = 0.0;
    c.momentum = 0.0;
    c.epsilon = 0.0;
    c.epochs = 0;
    c.validation_size = 0;
    c.max_to_keep = 0;
    c.threads = 0;
    c.save_every_steps = 0;
    c.save_every_secs = 0.0;
    c.batch_size = 1;
    c.hidden = {1, 1000000};
    REQUIRE_NOTHROW(validate(c));
    REQUIRE_NOTHROW(validate(awkward()));
}

TEST_CASE("config: rejects a batch size below 1", "[config]") {
    TrainConfig c;
    c.batch_size = 0;
    REQUIRE_THROWS_AS(validate(c), ConfigError);
    REQUIRE_THROWS_WITH(validate(c), "--batch_size must be at least 1, got 0");
}

TEST_CASE("config: rejects keep probabilities that are not above 0 and at most 1", "[config]") {
    for (double p : {0.0, -0.5, 1.0000000000000002, 2.0, std::nan(""), HUGE_VAL}) {
        TrainConfig c;
        c.keep_prob_input = p;
        REQUIRE_THROWS_WITH(validate(c), Contains("--keep_prob_input must be in (0, 1], got"));
        TrainConfig d;
        d.keep_prob_hidden = p;
        REQUIRE_THROWS_WITH(validate(d), Contains("--keep_prob_hidden must be in (0, 1], got"));
    }
    TrainConfig c;
    c.keep_prob_hidden = 1.5;
    REQUIRE_THROWS_WITH(validate(c), "--keep_prob_hidden must be in (0, 1], got 1.5");
}

TEST_CASE("config: rejects a learning rate that is not positive and finite", "[config]") {
    for (double lr : {0.0, -0.001, std::nan(""), HUGE_VAL}) {
        TrainConfig c;
        c.learning_rate = lr;
        REQUIRE_THROWS_WITH(validate(c), Contains("--learning_rate must be a finite number greater than 0"));
    }
    TrainConfig c;
    c.learning_rate = -0.001;
    REQUIRE_THROWS_WITH(validate(c), Contains("got -0.001"));
}

TEST_CASE("config: rejects decay and momentum below 0 or from 1 up", "[config]") {
    for (double x : {1.0, -0.1, 1.5, std::nan("")}) {
        TrainConfig c;
        c.decay = x;
        REQUIRE_THROWS_WITH(validate(c), Contains("--decay must be in [0, 1), got"));
        TrainConfig d;
        d.momentum = x;
        REQUIRE_THROWS_WITH(validate(d), Contains("--momentum must be in [0, 1), got"));
    }
    TrainConfig c;
    c.decay = 1.0;
    REQUIRE_THROWS_WITH(validate(c), "--decay must be in [0, 1), got 1");
}

TEST_CASE("config: rejects a negative or non-finite epsilon", "[config]") {
    TrainConfig c;
    c.epsilon = -1e-10;
    REQUIRE_THROWS_WITH(validate(c), "--epsilon must be a finite number at least 0, got -1e-10");
    c.epsilon = HUGE_VAL;
    REQUIRE_THROWS_WITH(validate(c), Contains("--epsilon must be"));
}

TEST_CASE("config: rejects negative counts", "[config]") {
    TrainConfig c;
    c.epochs = -1;
    REQUIRE_THROWS_WITH(validate(c), "--epochs must be at least 0, got -1");
    c = TrainConfig{};
    c.validation_size = -5;
    REQUIRE_THROWS_WITH(validate(c), "--validation_size must be at least 0, got -5");
    c = TrainConfig{};
    c.max_to_keep = -1;
    REQUIRE_THROWS_WITH(validate(c), "--max_to_keep must be at least 0, got -1");
    c = TrainConfig{};
    c.threads = -2;
    REQUIRE_THROWS_WITH(validate(c), "--threads must be at least 0, got -2");
    c = TrainConfig{};
    c.save_every_steps = -100;
    REQUIRE_THROWS_WITH(validate(c), "--save_every_steps must be at least 0, got -100");
    c = TrainConfig{};
    c.save_every_secs = -0.5;
    REQUIRE_THROWS_WITH(validate(c), "--save_every_secs must be a finite number at least 0, got -0.5");
}

TEST_CASE("config: rejects keep_checkpoint_every_n_hours that is not positive", "[config]") {
    TrainConfig c;
    c.keep_checkpoint_every_n_hours = 0;
    REQUIRE_THROWS_WITH(validate(c),
                        "--keep_checkpoint_every_n_hours must be a finite number greater than 0, got 0");
    c.keep_checkpoint_every_n_hours = HUGE_VAL;
    REQUIRE_THROWS_WITH(validate(c), Contains("got inf"));
}

TEST_CASE("config: rejects an empty hidden list and widths below 1 or above 1000000", "[config]") {
    TrainConfig c;
    c.hidden = {};
    REQUIRE_THROWS_WITH(validate(c),
                        "--hidden must be a list of at least one layer width, got an empty list");
    c.hidden = {625, 0};
    REQUIRE_THROWS_WITH(validate(c), "--hidden widths must be in [1, 1000000], got 0 for layer 2 of 625,0");
    c.hidden = {-3};
    REQUIRE_THROWS_WITH(validate(c), Contains("got -3 for layer 1"));
    c.hidden = {1000001};
    REQUIRE_THROWS_WITH(validate(c), Contains("got 1000001"));
}

TEST_CASE("config: rejects an init map or the init optimizer option without an init file", "[config]") {
    TrainConfig c;
    c.init_map = "w_h";
    REQUIRE_THROWS_WITH(validate(c), Contains("--init_map needs --init_from"));
    c.init_map.clear();
    c.init_optimizer = true;
    REQUIRE_THROWS_WITH(validate(c), Contains("--init_optimizer needs --init_from"));
    c.init_from = "model-1.safetensors";
    c.init_map = "w_h";
    REQUIRE_NOTHROW(validate(c));
}

TEST_CASE("config: rejects empty directories", "[config]") {
    TrainConfig c;
    c.data_dir = "";
    REQUIRE_THROWS_WITH(validate(c), "--data_dir must be a directory, got an empty string");
    c = TrainConfig{};
    c.ckpt_dir = "";
    REQUIRE_THROWS_WITH(validate(c), "--ckpt_dir must be a directory, got an empty string");
}

TEST_CASE("config: JSON round trip keeps every field and every double bit for bit", "[config]") {
    const TrainConfig c = awkward();
    const TrainConfig d = config_from_json(to_json(c));
    REQUIRE(d.data_dir == c.data_dir);
    REQUIRE(d.ckpt_dir == c.ckpt_dir);
    REQUIRE(d.hidden == c.hidden);
    REQUIRE(same_bits(d.keep_prob_input, c.keep_prob_input));
    REQUIRE(same_bits(d.keep_prob_hidden, c.keep_prob_hidden));
    REQUIRE(same_bits(d.learning_rate, c.learning_rate));
    REQUIRE(same_bits(d.decay, c.decay));
    REQUIRE(same_bits(d.momentum, c.momentum));
    REQUIRE(same_bits(d.epsilon, c.epsilon));
    REQUIRE(d.batch_size == c.batch_size);
    REQUIRE(d.epochs == c.epochs);
    REQUIRE(d.seed == c.seed);
    REQUIRE(d.shuffle == c.shuffle);
    REQUIRE(d.validation_size == c.validation_size);
    REQUIRE(d.max_to_keep == c.max_to_keep);
    REQUIRE(same_bits(d.keep_checkpoint_every_n_hours, c.keep_checkpoint_every_n_hours));
    REQUIRE(d.threads == c.threads);
    REQUIRE(d.save_every_steps == c.save_every_steps);
    REQUIRE(same_bits(d.save_every_secs, c.save_every_secs));
    REQUIRE(d.init_from == c.init_from);
    REQUIRE(d.init_map == c.init_map);
    REQUIRE(d.init_optimizer == c.init_optimizer);
    REQUIRE(incompatible_settings(c, d).empty());
    REQUIRE(changed_settings(c, d).empty());
    REQUIRE(to_json(d) == to_json(c));
}

TEST_CASE("config: JSON lists every field in struct order with short doubles", "[config]") {
    const std::string text = to_json(awkward());
    const auto j = nlohmann::ordered_json::parse(text);
    std::vector<std::string> keys;
    for (const auto& item : j.items()) keys.push_back(item.key());
    REQUIRE(keys == std::vector<std::string>{
                        "data_dir", "ckpt_dir", "hidden", "keep_prob_input", "keep_prob_hidden",
                        "learning_rate", "decay", "momentum", "epsilon", "batch_size", "epochs", "seed",
                        "shuffle", "validation_size", "max_to_keep", "keep_checkpoint_every_n_hours",
                        "threads", "save_every_steps", "save_every_secs", "init_from", "init_map",
                        "init_optimizer", "data_fingerprint", "allow_other_data"});
    REQUIRE_THAT(text, Contains("\"keep_prob_input\":0.1,"));
    REQUIRE_THAT(text, Contains("\"learning_rate\":1e-10,"));
    REQUIRE_THAT(text, Contains("\"keep_prob_hidden\":0.3333333333333333,"));
    REQUIRE_THAT(text, Contains("\"seed\":18446744073709551615,"));
}

TEST_CASE("config: from JSON ignores unknown keys", "[config]") {
    auto j = nlohmann::json::parse(to_json(TrainConfig{}));
    j["added_in_a_later_version"] = {1, 2, 3};
    REQUIRE(config_from_json(j.dump()).batch_size == 128);
}

TEST_CASE("config: from JSON reads a configuration written before the init options, leaving them off", "[config]") {
    auto j = nlohmann::json::parse(to_json(awkward()));
    j.erase("init_from");
    j.erase("init_map");
    j.erase("init_optimizer");
    const TrainConfig c = config_from_json(j.dump());
    CHECK(c.init_from.empty());
    CHECK(c.init_map.empty());
    CHECK_FALSE(c.init_optimizer);
    CHECK(c.save_every_steps == 1000);
    j["init_optimizer"] = "yes";
    REQUIRE_THROWS_WITH(config_from_json(j.dump()), Contains("field \"init_optimizer\": expected true or false"));
}

TEST_CASE("config: from JSON accepts whole numbers for double fields", "[config]") {
    auto j = nlohmann::json::parse(to_json(TrainConfig{}));
    j["keep_prob_input"] = 1;
    REQUIRE(config_from_json(j.dump()).keep_prob_input == 1.0);
}

TEST_CASE("config: from JSON rejects a missing field, naming it", "[config]") {
    for (const char* name :
         {"data_dir", "hidden", "learning_rate", "seed", "shuffle", "threads", "save_every_secs"}) {
        auto j = nlohmann::json::parse(to_json(TrainConfig{}));
        j.erase(name);
        REQUIRE_THROWS_AS(config_from_json(j.dump()), ConfigError);
        REQUIRE_THROWS_WITH(config_from_json(j.dump()),
                            std::string("config JSON: field \"") + name + "\" is missing");
    }
}

TEST_CASE("config: from JSON rejects a mistyped field, naming it and what was found", "[config]") {
    const auto with = [](const char* name, const nlohmann::json& v) {
        auto j = nlohmann::json::parse(to_json(TrainConfig{}));
        j[name] = v;
        return j.dump();
    };
    REQUIRE_THROWS_WITH(config_from_json(with("batch_size", "128")),
                        "config JSON: field \"batch_size\": expected a 64-bit integer, found \"128\"");
    REQUIRE_THROWS_WITH(config_from_json(with("batch_size", 1.5)), Contains("field \"batch_size\""));
    REQUIRE_THROWS_WITH(config_from_json(with("batch_size", nlohmann::json(UINT64_MAX))),
                        Contains("field \"batch_size\": expected a 64-bit integer"));
    REQUIRE_THROWS_WITH(config_from_json(with("learning_rate", nullptr)),
                        "config JSON: field \"learning_rate\": expected a finite number, found null");
    REQUIRE_THROWS_WITH(config_from_json(with("shuffle", 1)),
                        Contains("field \"shuffle\": expected true or false, found 1"));
    REQUIRE_THROWS_WITH(config_from_json(with("seed", -1)),
                        Contains("field \"seed\": expected a non-negative 64-bit integer, found -1"));
    REQUIRE_THROWS_WITH(config_from_json(with("threads", 4294967296LL)),
                        Contains("field \"threads\": expected a 32-bit integer"));
    REQUIRE_THROWS_WITH(config_from_json(with("hidden", 625)),
                        Contains("field \"hidden\": expected an array of integers, found 625"));
    REQUIRE_THROWS_WITH(config_from_json(with("hidden", {625, "625"})),
                        Contains("field \"hidden\": expected an array of 32-bit integers"));
    REQUIRE_THROWS_WITH(config_from_json(with("data_dir", 5)),
                        Contains("field \"data_dir\": expected a string, found 5"));
}

TEST_CASE("config: from JSON rejects text that is not a JSON object", "[config]") {
    REQUIRE_THROWS_WITH(config_from_json("{\"data_dir\":"), Contains("config JSON: not valid JSON"));
    REQUIRE_THROWS_WITH(config_from_json("[1]"), "config JSON: expected an object, found array");
}

TEST_CASE("config: incompatible settings name each shape- or order-fixing change", "[config]") {
    TrainConfig saved, requested;
    REQUIRE(incompatible_settings(saved, requested).empty());
    requested.hidden = {800, 800};
    requested.batch_size = 64;
    requested.validation_size = 0;
    requested.seed = 7;
    requested.shuffle = false;
    // Changes that are allowed do not appear here.
    requested.learning_rate = 0.01;
    requested.epochs = 100;
    REQUIRE(incompatible_settings(saved, requested) ==
            std::vector<std::string>{"hidden: checkpoint has 625,625, requested 800,800",
                                     "batch_size: checkpoint has 128, requested 64",
                                     "validation_size: checkpoint has 5000, requested 0",
                                     "seed: checkpoint has 42, requested 7",
                                     "shuffle: checkpoint has true, requested false"});
}

TEST_CASE("config: changed settings name each change to the math and nothing else", "[config]") {
    TrainConfig saved, requested;
    requested.epochs = 99;
    requested.threads = 3;
    requested.ckpt_dir = "elsewhere";
    requested.max_to_keep = 1;
    requested.keep_checkpoint_every_n_hours = 1;
    requested.save_every_steps = 10;
    requested.save_every_secs = 60;
    REQUIRE(changed_settings(saved, requested).empty());
    requested.keep_prob_input = 0.9;
    requested.keep_prob_hidden = 1.0;
    requested.learning_rate = 1e-4;
    requested.decay = 0.95;
    requested.momentum = 0.1;
    requested.epsilon = 1e-8;
    requested.data_dir = "data/fashion";
    REQUIRE(changed_settings(saved, requested) ==
            std::vector<std::string>{"keep_prob_input: checkpoint has 0.8, requested 0.9",
                                     "keep_prob_hidden: checkpoint has 0.5, requested 1",
                                     "learning_rate: checkpoint has 0.001, requested 0.0001",
                                     "decay: checkpoint has 0.9, requested 0.95",
                                     "momentum: checkpoint has 0, requested 0.1",
                                     "epsilon: checkpoint has 1e-10, requested 1e-08"});
}

TEST_CASE("config: changed settings notice a difference in the last bit of a double", "[config]") {
    TrainConfig saved, requested;
    requested.learning_rate = std::nextafter(saved.learning_rate, 1.0);
    REQUIRE(changed_settings(saved, requested) ==
            std::vector<std::string>{"learning_rate: checkpoint has 0.001, requested 0.0010000000000000002"});
}

// Found by fuzz/fuzz_config: nesting deep enough to exhaust the stack when parsed or printed, and a
// number beyond a double's range (read as infinity, written back as null).
TEST_CASE("config: from JSON refuses nesting deeper than 64 levels and numbers beyond a double", "[config]") {
    const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
    REQUIRE_THROWS_WITH(config_from_json("{\"hidden\":" + deep + "}"), Contains("nested deeper than 64 levels"));
    auto j = nlohmann::json::parse(to_json(TrainConfig{}));
    std::string text = j.dump();
    const std::string key = "\"epsilon\":";
    const size_t at = text.find(key) + key.size();
    text.replace(at, text.find(',', at) - at, "1e999");
    REQUIRE_THROWS_WITH(config_from_json(text), Contains("config JSON") && Contains("1e999"));
}

TEST_CASE("config: a mistyped field quotes at most 80 characters of what was found", "[config]") {
    auto j = nlohmann::json::parse(to_json(TrainConfig{}));
    j["decay"] = std::string(100000, 'x');
    try {
        config_from_json(j.dump());
        FAIL("no error");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).size() < 200);
    }
}

// From a review: FTZ/DAZ, set for the training threads, made two denormals compare equal, so a
// denormal setting was written as a decimal that reads back as another number.
TEST_CASE("config: denormal settings are written and compared exactly while denormals are flushed (DAZ)", "[config]") {
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);  // FTZ | DAZ, as numerics/gemm sets them
    TrainConfig a, b;
    a.epsilon = 5e-324;
    b.epsilon = 1.5e-320;
    const bool exact_text = [&] {
        for (double x : {5e-324, 1.5e-320, 2.2250738585072009e-308}) {
            const double y = std::strtod(exact_decimal(x).c_str(), nullptr);
            if (std::memcmp(&x, &y, sizeof x) != 0) return false;
        }
        return true;
    }();
    const std::vector<std::string> changed = changed_settings(a, b);
    const TrainConfig back = config_from_json(to_json(b));
    _mm_setcsr(csr);
    CHECK(exact_text);
    CHECK(changed.size() == 1);
    CHECK(same_bits(back.epsilon, b.epsilon));
}
