// Tests of the `checkpoint` state file and the retention rule: the text form round trips exactly and
// reads TensorFlow's own example, every parse error names the file and line, and apply_retention keeps
// max_to_keep files, keeps everything at 0, lists a re-saved path once and preserves one file per N hours.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "src/checkpoint/state_file.hpp"

using namespace mnist;
using Catch::Matchers::Contains;

namespace {

using Paths = std::vector<std::string>;

bool same_bits(double a, double b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

CheckpointState parse(const std::string& text) {
    return parse_checkpoint_state(text, "ckpt/checkpoint");
}

// Saves "model-<step>" at t0 + step * seconds_per_step for steps 1..n and collects every deletion.
struct Run {
    CheckpointState state;
    Paths deleted;
};
Run save_steps(int n, double seconds_per_step, int64_t max_to_keep, double hours, double t0 = 1.7e9) {
    Run r;
    for (int step = 1; step <= n; ++step) {
        RetentionResult res = apply_retention(r.state, "model-" + std::to_string(step),
                                              t0 + step * seconds_per_step, max_to_keep, hours);
        r.deleted.insert(r.deleted.end(), res.to_delete.begin(), res.to_delete.end());
        r.state = res.state;
    }
    return r;
}

}  // namespace

TEST_CASE("state_file: parses the example state file from TensorFlow's documentation",
          "[state_file]") {
    const CheckpointState s = parse(
        "model_checkpoint_path: \"model-2145\"\n"
        "all_model_checkpoint_paths: \"model-1716\"\n"
        "all_model_checkpoint_paths: \"model-2145\"\n"
        "all_model_checkpoint_timestamps: 1764442000.25\n"
        "all_model_checkpoint_timestamps: 1764442031.5\n"
        "last_preserved_timestamp: 1764441000.0\n");
    REQUIRE(s.model_checkpoint_path == "model-2145");
    REQUIRE(s.all_model_checkpoint_paths == Paths{"model-1716", "model-2145"});
    REQUIRE(s.all_model_checkpoint_timestamps == std::vector<double>{1764442000.25, 1764442031.5});
    REQUIRE(s.last_preserved_timestamp == 1764441000.0);
    REQUIRE(s.preserved_paths.empty());
}

TEST_CASE("state_file: formats one field per line in TensorFlow's field order", "[state_file]") {
    CheckpointState s;
    s.model_checkpoint_path = "model-2145.safetensors";
    s.all_model_checkpoint_paths = {"model-1716.safetensors", "model-2145.safetensors"};
    s.all_model_checkpoint_timestamps = {1764442000.25, 1764442031.5};
    s.last_preserved_timestamp = 1764441000.0;
    s.preserved_paths = {"model-100.safetensors"};
    REQUIRE(format_checkpoint_state(s) ==
            "model_checkpoint_path: \"model-2145.safetensors\"\n"
            "all_model_checkpoint_paths: \"model-1716.safetensors\"\n"
            "all_model_checkpoint_paths: \"model-2145.safetensors\"\n"
            "all_model_checkpoint_timestamps: 1764442000.25\n"
            "all_model_checkpoint_timestamps: 1764442031.5\n"
            "last_preserved_timestamp: 1764441000\n"
            "# preserved: \"model-100.safetensors\"\n");
}

TEST_CASE("state_file: a state survives format and parse exactly, awkward strings and doubles included",
          "[state_file]") {
    CheckpointState s;
    s.model_checkpoint_path = "model \"quoted\" \\ back\tslash\nnewline-7";
    s.all_model_checkpoint_paths = {"plain-1", "ünïcödé-2", std::string("ctl\x01\x7f-3"),
                                    s.model_checkpoint_path};
    s.all_model_checkpoint_timestamps = {0.1, 1.0 / 3.0, 1764442031.123456789, 5e-324};
    s.last_preserved_timestamp = 1764441000.0000002;
    s.preserved_paths = {"model-100", "with \"quote\""};
    const std::string text = format_checkpoint_state(s);
    const CheckpointState t = parse(text);
    REQUIRE(t.model_checkpoint_path == s.model_checkpoint_path);
    REQUIRE(t.all_model_checkpoint_paths == s.all_model_checkpoint_paths);
    REQUIRE(t.all_model_checkpoint_timestamps.size() == 4);
    for (size_t i = 0; i < 4; ++i)
        REQUIRE(same_bits(t.all_model_checkpoint_timestamps[i], s.all_model_checkpoint_timestamps[i]));
    REQUIRE(same_bits(t.last_preserved_timestamp, s.last_preserved_timestamp));
    REQUIRE(t.preserved_paths == s.preserved_paths);
    REQUIRE(format_checkpoint_state(t) == text);
    // Every entry stays on its own line.
    REQUIRE(std::count(text.begin(), text.end(), '\n') == 1 + 4 + 4 + 1 + 2);
}

TEST_CASE("state_file: accepts blank lines, comments, CRLF, single quotes and C escapes",
          "[state_file]") {
    const CheckpointState s = parse(
        "# written by hand\r\n"
        "\r\n"
        "   model_checkpoint_path :  'model-2'   # newest\r\n"
        "all_model_checkpoint_paths: \"caf\\303\\251-1\"\n"
        "all_model_checkpoint_paths: \"model\" \"-2\"\n"
        "\t# another comment\n"
        "all_model_checkpoint_timestamps: 1e9\n"
        "all_model_checkpoint_timestamps: 1000000001\n"
        "# preserved: \"old-\\x41\"\n"
        "#preserved: \"not ours, an ordinary comment\"\n");
    REQUIRE(s.model_checkpoint_path == "model-2");
    REQUIRE(s.all_model_checkpoint_paths == Paths{"caf\xc3\xa9-1", "model-2"});
    REQUIRE(s.all_model_checkpoint_timestamps == std::vector<double>{1e9, 1000000001});
    REQUIRE(s.last_preserved_timestamp == 0);
    REQUIRE(s.preserved_paths == Paths{"old-A"});
}

TEST_CASE("state_file: accepts a state file without timestamps, as old TensorFlow wrote",
          "[state_file]") {
    const CheckpointState s = parse(
        "model_checkpoint_path: \"model.ckpt-2\"\n"
        "all_model_checkpoint_paths: \"model.ckpt-1\"\n"
        "all_model_checkpoint_paths: \"model.ckpt-2\"\n");
    REQUIRE(s.all_model_checkpoint_paths.size() == 2);
    REQUIRE(s.all_model_checkpoint_timestamps.empty());
}

TEST_CASE("state_file: rejects an unknown field, naming the file and line", "[state_file]") {
    REQUIRE_THROWS_AS(parse("model_checkpoint_path: \"m\"\nmodel_path: \"m\"\n"), CheckpointError);
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"m\"\nmodel_path: \"m\"\n"),
                        Contains("ckpt/checkpoint:2: unknown field \"model_path\""));
}

TEST_CASE("state_file: rejects lines that are not `field: value`", "[state_file]") {
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path \"m\"\n"),
                        Contains("ckpt/checkpoint:1: expected ':' after model_checkpoint_path"));
    REQUIRE_THROWS_WITH(parse("\n\n: \"m\"\n"), Contains("ckpt/checkpoint:3: expected a field name"));
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: m\n"),
                        Contains("ckpt/checkpoint:1: expected a quoted string, found \"m\""));
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"m\" extra\n"),
                        Contains("ckpt/checkpoint:1: unexpected text after the value: \"extra\""));
}

TEST_CASE("state_file: rejects an unterminated string", "[state_file]") {
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"model-1\n"),
                        Contains("ckpt/checkpoint:1: unterminated string"));
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"m\"\nall_model_checkpoint_paths: \"a\\\"\n"),
                        Contains("ckpt/checkpoint:2: unterminated string"));
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"m\\"),
                        Contains("ckpt/checkpoint:1: unterminated string"));
    REQUIRE_THROWS_WITH(parse("# preserved: \"m\n"), Contains("ckpt/checkpoint:1: unterminated string"));
}

TEST_CASE("state_file: rejects a malformed escape in a string", "[state_file]") {
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"a\\qb\"\n"),
                        Contains("ckpt/checkpoint:1: malformed string: unknown escape \\q"));
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"a\\xzz\"\n"),
                        Contains("malformed string: \\x without hexadecimal digits"));
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"a\\777\"\n"), Contains("octal escape above \\377"));
}

TEST_CASE("state_file: rejects a bad number", "[state_file]") {
    const std::string head = "model_checkpoint_path: \"m\"\nall_model_checkpoint_paths: \"m\"\n";
    REQUIRE_THROWS_WITH(parse(head + "all_model_checkpoint_timestamps: 12abc\n"),
                        Contains("ckpt/checkpoint:3: expected a number, found \"12abc\""));
    REQUIRE_THROWS_WITH(parse(head + "all_model_checkpoint_timestamps: \"12\"\n"),
                        Contains("ckpt/checkpoint:3: expected a number"));
    REQUIRE_THROWS_WITH(parse(head + "last_preserved_timestamp: 0x10\n"),
                        Contains("ckpt/checkpoint:3: expected a number, found \"0x10\""));
    REQUIRE_THROWS_WITH(parse(head + "last_preserved_timestamp:\n"),
                        Contains("ckpt/checkpoint:3: expected a number, found end of line"));
    REQUIRE_THROWS_WITH(parse(head + "last_preserved_timestamp: 1.5.2\n"), Contains("found \"1.5.2\""));
    REQUIRE_THROWS_WITH(parse(head + "last_preserved_timestamp: 1 2\n"),
                        Contains("unexpected text after the value: \"2\""));
}

TEST_CASE("state_file: rejects timestamps that do not match the paths one to one",
          "[state_file]") {
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"b\"\n"
                              "all_model_checkpoint_paths: \"a\"\n"
                              "all_model_checkpoint_paths: \"b\"\n"
                              "all_model_checkpoint_timestamps: 1\n"),
                        Contains("ckpt/checkpoint: 1 all_model_checkpoint_timestamps for 2 "
                                 "all_model_checkpoint_paths, expected one timestamp per path"));
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"b\"\n"
                              "all_model_checkpoint_timestamps: 1\n"),
                        Contains("1 all_model_checkpoint_timestamps for 0 all_model_checkpoint_paths"));
}

TEST_CASE("state_file: rejects a missing or empty model_checkpoint_path", "[state_file]") {
    REQUIRE_THROWS_WITH(parse("all_model_checkpoint_paths: \"a\"\n"),
                        Contains("ckpt/checkpoint: no model_checkpoint_path field"));
    REQUIRE_THROWS_WITH(parse(""), Contains("ckpt/checkpoint: no model_checkpoint_path field"));
    REQUIRE_THROWS_WITH(parse("\n\nmodel_checkpoint_path: \"\"\n"),
                        Contains("ckpt/checkpoint:3: model_checkpoint_path is empty"));
}

TEST_CASE("state_file: rejects a repeated single-valued field", "[state_file]") {
    REQUIRE_THROWS_WITH(
        parse("model_checkpoint_path: \"a\"\nmodel_checkpoint_path: \"b\"\n"),
        Contains("ckpt/checkpoint:2: model_checkpoint_path repeated (first given on line 1)"));
    REQUIRE_THROWS_WITH(parse("model_checkpoint_path: \"a\"\nlast_preserved_timestamp: 1\n"
                              "last_preserved_timestamp: 2\n"),
                        Contains("ckpt/checkpoint:3: last_preserved_timestamp repeated"));
}

TEST_CASE("state_file: retention with max_to_keep 5 deletes the oldest", "[state_file]") {
    const Run r = save_steps(8, 60, 5, 10000);
    REQUIRE(r.deleted == Paths{"model-1", "model-2", "model-3"});
    REQUIRE(r.state.all_model_checkpoint_paths ==
            Paths{"model-4", "model-5", "model-6", "model-7", "model-8"});
    REQUIRE(r.state.all_model_checkpoint_timestamps ==
            std::vector<double>{1.7e9 + 240, 1.7e9 + 300, 1.7e9 + 360, 1.7e9 + 420, 1.7e9 + 480});
    REQUIRE(r.state.model_checkpoint_path == "model-8");
    REQUIRE(r.state.preserved_paths.empty());
    // The first save set the reference time for keep_checkpoint_every_n_hours.
    REQUIRE(r.state.last_preserved_timestamp == 1.7e9 + 60);
}

TEST_CASE("state_file: retention with max_to_keep 0 keeps every checkpoint", "[state_file]") {
    const Run r = save_steps(20, 3600 * 24, 0, 1);
    REQUIRE(r.deleted.empty());
    REQUIRE(r.state.all_model_checkpoint_paths.size() == 20);
    REQUIRE(r.state.all_model_checkpoint_timestamps.size() == 20);
    REQUIRE(r.state.preserved_paths.empty());
}

TEST_CASE("state_file: retention lists a path saved twice only once, as the newest",
          "[state_file]") {
    CheckpointState s;
    s = apply_retention(s, "model-1", 100, 5, 10000).state;
    s = apply_retention(s, "model-2", 200, 5, 10000).state;
    const RetentionResult r = apply_retention(s, "model-1", 300, 5, 10000);
    REQUIRE(r.to_delete.empty());
    REQUIRE(r.state.all_model_checkpoint_paths == Paths{"model-2", "model-1"});
    REQUIRE(r.state.all_model_checkpoint_timestamps == std::vector<double>{200, 300});
    REQUIRE(r.state.model_checkpoint_path == "model-1");
}

TEST_CASE("state_file: retention never deletes the file just written", "[state_file]") {
    CheckpointState s;
    s = apply_retention(s, "model-1", 100, 1, 10000).state;
    const RetentionResult r = apply_retention(s, "model-1", 200, 1, 10000);
    REQUIRE(r.to_delete.empty());
    REQUIRE(r.state.all_model_checkpoint_paths == Paths{"model-1"});
}

TEST_CASE("state_file: retention with keep_every_n_hours preserves one checkpoint per N hours",
          "[state_file]") {
    // A save every 20 minutes for 5 hours, keeping 2, preserving one per hour.
    const Run r = save_steps(15, 1200, 2, 1.0);
    // model-1 (at 20 min) sets the reference; the first to age out at least an hour later is model-4.
    REQUIRE(r.state.preserved_paths == Paths{"model-4", "model-7", "model-10", "model-13"});
    REQUIRE(r.deleted == Paths{"model-1", "model-2", "model-3", "model-5", "model-6", "model-8", "model-9",
                               "model-11", "model-12"});
    REQUIRE(r.state.all_model_checkpoint_paths == Paths{"model-14", "model-15"});
    REQUIRE(r.state.last_preserved_timestamp == 1.7e9 + 13 * 1200);
    // The preserved list survives the state file.
    const CheckpointState back = parse(format_checkpoint_state(r.state));
    REQUIRE(back.preserved_paths == r.state.preserved_paths);
    REQUIRE(back.last_preserved_timestamp == r.state.last_preserved_timestamp);
}

TEST_CASE("state_file: retention with the default 10000 hours preserves nothing",
          "[state_file]") {
    const Run r = save_steps(50, 3600, 5, 10000);
    REQUIRE(r.state.preserved_paths.empty());
    REQUIRE(r.deleted.size() == 45);
}

TEST_CASE("state_file: retention trims several files when max_to_keep was lowered",
          "[state_file]") {
    Run r = save_steps(5, 60, 5, 10000);
    const RetentionResult res = apply_retention(r.state, "model-6", 1.7e9 + 360, 2, 10000);
    REQUIRE(res.to_delete == Paths{"model-1", "model-2", "model-3", "model-4"});
    REQUIRE(res.state.all_model_checkpoint_paths == Paths{"model-5", "model-6"});
}

TEST_CASE("state_file: retention continues a state written without timestamps", "[state_file]") {
    CheckpointState s = parse(
        "model_checkpoint_path: \"model.ckpt-2\"\n"
        "all_model_checkpoint_paths: \"model.ckpt-1\"\n"
        "all_model_checkpoint_paths: \"model.ckpt-2\"\n");
    const RetentionResult r = apply_retention(s, "model.ckpt-3", 5000, 2, 1.0);
    REQUIRE(r.to_delete == Paths{"model.ckpt-1"});
    REQUIRE(r.state.all_model_checkpoint_timestamps == std::vector<double>{5000, 5000});
    REQUIRE(r.state.last_preserved_timestamp == 5000);
}

TEST_CASE("state_file: retention rejects a state whose timestamps do not match its paths",
          "[state_file]") {
    CheckpointState s;
    s.all_model_checkpoint_paths = {"a", "b"};
    s.all_model_checkpoint_timestamps = {1};
    REQUIRE_THROWS_WITH(apply_retention(s, "c", 2, 5, 1),
                        Contains("checkpoint state has 1 timestamps for 2 paths"));
}
