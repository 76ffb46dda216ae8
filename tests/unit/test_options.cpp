// The command lines of ./train and ./eval: defaults, every option reaching its field, and every
// rejection naming the option and the text it could not use.
#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "src/cli/options.hpp"

using namespace mnist;
using Catch::Matchers::Contains;

namespace {

// argv as a program receives it: the program's name, then args.
TrainOptions parse_train(std::vector<const char*> args) {
    args.insert(args.begin(), "train");
    return parse_train_options(int(args.size()), args.data());
}

EvalOptions parse_eval(std::vector<const char*> args) {
    args.insert(args.begin(), "eval");
    return parse_eval_options(int(args.size()), args.data());
}

// What std::cout receives for the scope of a test (--help and --version print there).
struct CapturedStdout {
    std::ostringstream text;
    std::streambuf* before = std::cout.rdbuf(text.rdbuf());
    ~CapturedStdout() { std::cout.rdbuf(before); }
};

}  // namespace

TEST_CASE("options: without arguments every setting is TrainConfig's default", "[options]") {
    const TrainOptions o = parse_train({});
    CHECK(to_json(o.config) == to_json(TrainConfig{}));
    CHECK_FALSE(o.quiet);
    CHECK(o.progress == "auto");
    CHECK_FALSE(o.exit_now);
    CHECK(o.exit_code == 0);
}

TEST_CASE("options: every train option sets its field", "[options]") {
    TrainConfig expected;
    expected.data_dir = "d";
    expected.ckpt_dir = "c";
    expected.hidden = {30, 20, 10};
    expected.keep_prob_input = 0.9;
    expected.keep_prob_hidden = 0.75;
    expected.learning_rate = 0.02;
    expected.decay = 0.95;
    expected.momentum = 0.5;
    expected.epsilon = 1e-8;
    expected.batch_size = 64;
    expected.epochs = 7;
    expected.seed = 18446744073709551615ull;  // the largest seed
    expected.shuffle = false;
    expected.validation_size = 0;
    expected.max_to_keep = 0;
    expected.keep_checkpoint_every_n_hours = 0.5;
    expected.save_every_steps = 100;
    expected.save_every_secs = 60.5;
    expected.threads = 3;
    expected.init_from = "old/model-10.safetensors";
    expected.init_map = "w_h=w_h2,w_o";
    expected.init_optimizer = true;

    const TrainOptions o = parse_train({"--data_dir", "d", "--ckpt_dir", "c", "--hidden", "30,20,10",
                                        "--keep_prob_input", "0.9", "--keep_prob_hidden=0.75", "--learning_rate",
                                        "0.02", "--decay", "0.95", "--momentum", "0.5", "--epsilon", "1e-8",
                                        "--batch_size", "64", "--epochs", "7", "--seed", "18446744073709551615",
                                        "--shuffle", "false", "--validation_size", "0", "--max_to_keep", "0",
                                        "--keep_checkpoint_every_n_hours", "0.5", "--save_every_steps", "100",
                                        "--save_every_secs", "60.5", "--threads", "3", "--init_from",
                                        "old/model-10.safetensors", "--init_map", "w_h=w_h2,w_o", "--init_optimizer",
                                        "--quiet", "--progress", "plain"});
    CHECK(to_json(o.config) == to_json(expected));
    CHECK(o.quiet);
    CHECK(o.progress == "plain");
    CHECK_FALSE(o.exit_now);

    // Every field differs from its default, so an option that did not reach its field fails here too
    // (should to_json ever leave a field out).
    const TrainConfig d;
    CHECK(o.config.data_dir != d.data_dir);
    CHECK(o.config.ckpt_dir != d.ckpt_dir);
    CHECK(o.config.hidden != d.hidden);
    CHECK(o.config.keep_prob_input != d.keep_prob_input);
    CHECK(o.config.keep_prob_hidden != d.keep_prob_hidden);
    CHECK(o.config.learning_rate != d.learning_rate);
    CHECK(o.config.decay != d.decay);
    CHECK(o.config.momentum != d.momentum);
    CHECK(o.config.epsilon != d.epsilon);
    CHECK(o.config.batch_size != d.batch_size);
    CHECK(o.config.epochs != d.epochs);
    CHECK(o.config.seed != d.seed);
    CHECK(o.config.shuffle != d.shuffle);
    CHECK(o.config.validation_size != d.validation_size);
    CHECK(o.config.max_to_keep != d.max_to_keep);
    CHECK(o.config.keep_checkpoint_every_n_hours != d.keep_checkpoint_every_n_hours);
    CHECK(o.config.save_every_steps != d.save_every_steps);
    CHECK(o.config.save_every_secs != d.save_every_secs);
    CHECK(o.config.threads != d.threads);
    CHECK(o.config.init_from != d.init_from);
    CHECK(o.config.init_map != d.init_map);
    CHECK(o.config.init_optimizer != d.init_optimizer);
}

TEST_CASE("options: a malformed integer names the option and the text", "[options]") {
    for (const char* option :
         {"--batch_size", "--epochs", "--seed", "--validation_size", "--max_to_keep", "--save_every_steps", "--threads"}) {
        for (const char* value : {"x", "12a", "1.5", "1e3", ""}) {
            INFO(option << " " << value);
            const std::string expected = std::string(option) + " expects an integer, got '" + value + "'";
            REQUIRE_THROWS_AS(parse_train({option, value}), ConfigError);
            REQUIRE_THROWS_WITH(parse_train({option, value}), expected);
        }
    }
}

TEST_CASE("options: a malformed number names the option and the text", "[options]") {
    for (const char* option : {"--keep_prob_input", "--keep_prob_hidden", "--learning_rate", "--decay", "--momentum",
                               "--epsilon", "--keep_checkpoint_every_n_hours", "--save_every_secs"}) {
        for (const char* value : {"x", "0.5x", "0,5", ""}) {
            INFO(option << " " << value);
            const std::string expected = std::string(option) + " expects a number, got '" + value + "'";
            REQUIRE_THROWS_AS(parse_train({option, value}), ConfigError);
            REQUIRE_THROWS_WITH(parse_train({option, value}), expected);
        }
    }
}

TEST_CASE("options: a negative or too large seed is refused, not wrapped around", "[options]") {
    REQUIRE_THROWS_WITH(parse_train({"--seed", "-1"}), "--seed expects an integer, got '-1'");
    REQUIRE_THROWS_WITH(parse_train({"--seed=-1"}), "--seed expects an integer, got '-1'");
    REQUIRE_THROWS_WITH(parse_train({"--seed", "18446744073709551616"}),
                        "--seed expects an integer, got '18446744073709551616'");
    REQUIRE_THROWS_WITH(parse_train({"--threads", "99999999999"}), "--threads expects an integer, got '99999999999'");
}

TEST_CASE("options: an unknown flag, a stray argument or a missing value points to --help", "[options]") {
    REQUIRE_THROWS_AS(parse_train({"--bogus"}), ConfigError);
    REQUIRE_THROWS_WITH(parse_train({"--bogus"}), Contains("bogus") && Contains("(see --help)"));
    REQUIRE_THROWS_AS(parse_train({"--epochs", "2", "extra"}), ConfigError);
    REQUIRE_THROWS_WITH(parse_train({"--epochs", "2", "extra"}), "unexpected argument 'extra' (see --help)");
    REQUIRE_THROWS_AS(parse_train({"--batch_size"}), ConfigError);
    REQUIRE_THROWS_WITH(parse_train({"--batch_size"}), Contains("batch_size") && Contains("(see --help)"));
    REQUIRE_THROWS_WITH(parse_eval({"--bogus"}), Contains("bogus") && Contains("(see --help)"));
    REQUIRE_THROWS_WITH(parse_eval({"extra"}), "unexpected argument 'extra' (see --help)");
}

TEST_CASE("options: values out of their range are refused by validation, naming the option", "[options]") {
    REQUIRE_THROWS_AS(parse_train({"--keep_prob_input", "1.5"}), ConfigError);
    REQUIRE_THROWS_WITH(parse_train({"--keep_prob_input", "1.5"}), "--keep_prob_input must be in (0, 1], got 1.5");
    REQUIRE_THROWS_WITH(parse_train({"--batch_size", "0"}), "--batch_size must be at least 1, got 0");
    REQUIRE_THROWS_WITH(parse_train({"--threads", "-1"}), "--threads must be at least 0, got -1");
    REQUIRE_THROWS_WITH(parse_train({"--hidden", "0"}), Contains("--hidden") && Contains("'0'"));
    REQUIRE_THROWS_WITH(parse_train({"--shuffle", "maybe"}), "--shuffle expects true or false, got 'maybe'");
}

TEST_CASE("options: --init_map and --init_optimizer need --init_from, and a malformed map is refused", "[options]") {
    REQUIRE_THROWS_AS(parse_train({"--init_map", "w_h"}), ConfigError);
    REQUIRE_THROWS_WITH(parse_train({"--init_map", "w_h"}), Contains("--init_map needs --init_from") && Contains("'w_h'"));
    REQUIRE_THROWS_WITH(parse_train({"--init_optimizer"}), Contains("--init_optimizer needs --init_from"));
    REQUIRE_THROWS_WITH(parse_train({"--init_from", "f", "--init_map", "a=b=c"}),
                        Contains("--init_map 'a=b=c'") && Contains("more than one '='"));
    REQUIRE_THROWS_WITH(parse_train({"--init_from", "f", "--init_map", "w_h,,w_o"}),
                        Contains("--init_map 'w_h,,w_o'") && Contains("empty name"));
    REQUIRE_THROWS_WITH(parse_train({"--init_from", "f", "--init_map", "w_h,w_h=w_o"}),
                        Contains("target 'w_h' is named twice"));
    CHECK(parse_train({"--init_from", "f", "--init_map", "w_h=w_h2"}).config.init_map == "w_h=w_h2");
}

TEST_CASE("options: --progress takes auto, plain or off and nothing else", "[options]") {
    for (const char* mode : {"auto", "plain", "off"}) CHECK(parse_train({"--progress", mode}).progress == mode);
    REQUIRE_THROWS_AS(parse_train({"--progress", "fast"}), ConfigError);
    REQUIRE_THROWS_WITH(parse_train({"--progress", "fast"}), "--progress expects auto, plain or off, got 'fast'");
}

TEST_CASE("options: --help and --version print to stdout and ask the program to exit with status 0", "[options]") {
    CapturedStdout out;
    const TrainOptions help = parse_train({"--help"});
    CHECK(help.exit_now);
    CHECK(help.exit_code == 0);
    CHECK_THAT(out.text.str(), Contains("--batch_size") && Contains("--init_map") && Contains("Exit status"));
    out.text.str("");
    const TrainOptions version = parse_train({"--version"});
    CHECK(version.exit_now);
    CHECK(version.exit_code == 0);
    CHECK(out.text.str() == std::string("train ") + MNIST_VERSION + "\n");

    out.text.str("");
    const EvalOptions eval_help = parse_eval({"-h"});
    CHECK(eval_help.exit_now);
    CHECK(eval_help.exit_code == 0);
    CHECK_THAT(out.text.str(), Contains("--checkpoint") && Contains("--class_names"));
    out.text.str("");
    CHECK(parse_eval({"--version"}).exit_now);
    CHECK(out.text.str() == std::string("eval ") + MNIST_VERSION + "\n");
}

TEST_CASE("options: eval's options reach their fields and default as documented", "[options]") {
    const EvalOptions d = parse_eval({});
    const EvalOptions defaults;
    CHECK(d.ckpt_dir == defaults.ckpt_dir);
    CHECK(d.checkpoint.empty());
    CHECK(d.data_dir == defaults.data_dir);
    CHECK_FALSE(d.json);
    CHECK_FALSE(d.all);
    CHECK(d.threads == 0);
    CHECK(d.errors_png.empty());
    CHECK(d.max_errors == 64);
    CHECK(d.class_names == "auto");
    CHECK_FALSE(d.exit_now);

    const EvalOptions o = parse_eval({"--ckpt_dir", "c", "--checkpoint", "c/model-5.safetensors", "--data_dir", "d",
                                      "--json", "--threads", "2", "--errors", "e.png", "--max", "9", "--class_names",
                                      "fashion"});
    CHECK(o.ckpt_dir == "c");
    CHECK(o.checkpoint == "c/model-5.safetensors");
    CHECK(o.data_dir == "d");
    CHECK(o.json);
    CHECK(o.threads == 2);
    CHECK(o.errors_png == "e.png");
    CHECK(o.max_errors == 9);
    CHECK(o.class_names == "fashion");
    CHECK(parse_eval({"--all"}).all);
}

TEST_CASE("options: eval refuses --all with --checkpoint or --errors, --max 0, unknown class names and negative threads",
          "[options]") {
    REQUIRE_THROWS_AS(parse_eval({"--all", "--checkpoint", "f"}), ConfigError);
    REQUIRE_THROWS_WITH(parse_eval({"--all", "--checkpoint", "f"}), "--all and --checkpoint cannot be combined");
    REQUIRE_THROWS_WITH(parse_eval({"--all", "--errors", "e.png"}), "--all and --errors cannot be combined");
    REQUIRE_THROWS_WITH(parse_eval({"--max", "0"}), "--max must be 1 or more, got 0");
    REQUIRE_THROWS_WITH(parse_eval({"--max", "many"}), "--max expects an integer, got 'many'");
    REQUIRE_THROWS_WITH(parse_eval({"--class_names", "bad"}), "--class_names expects auto, digits or fashion, got 'bad'");
    REQUIRE_THROWS_WITH(parse_eval({"--threads", "-2"}), "--threads must be 0 (all cores) or more, got -2");
}

TEST_CASE("options: a width list reads comma-separated widths from 1 to 1000000", "[options]") {
    CHECK(parse_int_list("625,625", "hidden") == std::vector<int>{625, 625});
    CHECK(parse_int_list("7", "hidden") == std::vector<int>{7});
    CHECK(parse_int_list("1,1000000", "hidden") == std::vector<int>{1, 1000000});
}

TEST_CASE("options: a width list with an empty item, a width out of range or trailing text is refused", "[options]") {
    for (const char* text : {"625,,625", ",625", "625,", "625,625,", "0", "1000001", "-5", "12a", "1.5", "99999999999999999999"}) {
        INFO(text);
        REQUIRE_THROWS_AS(parse_int_list(text, "hidden"), ConfigError);
        REQUIRE_THROWS_WITH(parse_int_list(text, "hidden"),
                            "--hidden expects a comma-separated list of widths from 1 to 1000000, got '" +
                                std::string(text) + "'");
    }
    REQUIRE_THROWS_WITH(parse_int_list("", "hidden"), "--hidden expects at least one width, got ''");
}

TEST_CASE("options: a boolean is true, 1, yes, false, 0 or no and nothing else", "[options]") {
    for (const char* yes : {"true", "1", "yes"}) CHECK(parse_bool(yes, "shuffle"));
    for (const char* no : {"false", "0", "no"}) CHECK_FALSE(parse_bool(no, "shuffle"));
    for (const char* bad : {"True", "on", "2", ""}) {
        INFO(bad);
        REQUIRE_THROWS_AS(parse_bool(bad, "shuffle"), ConfigError);
        REQUIRE_THROWS_WITH(parse_bool(bad, "shuffle"), "--shuffle expects true or false, got '" + std::string(bad) + "'");
    }
    CHECK_FALSE(parse_train({"--shuffle", "no"}).config.shuffle);
    CHECK(parse_train({"--shuffle", "1"}).config.shuffle);
}
