// ./board's JSON API, called as the server calls it: the answers for a real (small) run, and the
// safety rules: names that leave the directory, malformed or oversized requests, 4xx with a
// message; the checkpoint directory never written; evaluations cached by the file's checksum.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <thread>

#include "src/serve/board_api.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A small run on synthetic 28x28 data (two epochs, a save each), shared by the tests of this file.
struct BoardRun {
    testutil::Quiet quiet;
    testutil::TempDir tmp;
    std::string data = tmp / "data", ckpt = tmp / "ckpt";
    BoardRun() {
        testutil::write_synthetic_mnist(data, 400, 100, 28);
        TrainConfig c = testutil::small_config(data, ckpt);
        c.epochs = 2;
        c.hidden = {16};
        testutil::run(c);
    }
};

BoardRun& board_run() {
    static BoardRun r;
    return r;
}

// Names, sizes and modification times of every file in dir.
std::map<std::string, std::pair<uintmax_t, int64_t>> snapshot(const std::string& dir) {
    std::map<std::string, std::pair<uintmax_t, int64_t>> out;
    for (const auto& e : fs::directory_iterator(dir))
        out[e.path().filename().string()] = {fs::file_size(e.path()), int64_t(fs::last_write_time(e.path()).time_since_epoch().count())};
    return out;
}

json pixels_body(int value) {
    std::vector<int> px(784, 0);
    for (int y = 4; y < 24; ++y) px[size_t(y) * 28 + 13] = px[size_t(y) * 28 + 14] = value;
    return json{{"pixels", px}};
}

void require_error(const ApiResponse& r, int status, const std::string& text) {
    INFO(r.body);
    CHECK(r.status == status);
    const json j = json::parse(r.body);
    REQUIRE(j.contains("error"));
    CHECK(j["error"].get<std::string>().find(text) != std::string::npos);
}

}  // namespace

TEST_CASE("board_api: metrics and checkpoints describe the run", "[board_api]") {
    BoardRun& run = board_run();
    BoardApi api(run.ckpt, run.data);
    const ApiResponse m = api.metrics();
    REQUIRE(m.status == 200);
    const json records = json::parse(m.body);
    REQUIRE(records.is_array());
    CHECK(std::count_if(records.begin(), records.end(), [](const json& r) { return r["event"] == "epoch"; }) == 2);
    const ApiResponse c = api.checkpoints();
    REQUIRE(c.status == 200);
    const json list = json::parse(c.body);
    REQUIRE(list.size() == 2);
    CHECK(list[0]["latest"] == true);
    CHECK(list[0]["valid"] == true);
    CHECK(list[0]["step"].get<int64_t>() > list[1]["step"].get<int64_t>());
    CHECK(list[0].contains("bytes"));
    CHECK(list[0].contains("saved_at"));
}

TEST_CASE("board_api: eval answers accuracy, confusion and misclassified images, and is cached", "[board_api]") {
    BoardRun& run = board_run();
    BoardApi api(run.ckpt, run.data);
    const ApiResponse a = api.eval("");
    REQUIRE(a.status == 200);
    const json j = json::parse(a.body);
    CHECK(j["images"] == 100);
    CHECK(j["confusion_matrix"].size() == 10);
    CHECK(j["per_class_accuracy"].size() == 10);
    CHECK(j["errors"].size() <= kMaxEvalErrors);
    const std::string name = j["checkpoint"];
    CHECK(api.eval(name).body == a.body);  // the same file: the same answer (from the cache)
}

TEST_CASE("board_api: names that leave the directory or are not checkpoints are refused with 4xx", "[board_api]") {
    BoardRun& run = board_run();
    BoardApi api(run.ckpt, run.data);
    require_error(api.eval("../ckpt/model-1.safetensors"), 400, "expected a file name model-<step>.safetensors");
    require_error(api.eval("/etc/passwd"), 400, "expected a file name");
    require_error(api.eval("checkpoint"), 400, "expected a file name");
    require_error(api.eval("model-999999.safetensors"), 404, "no file 'model-999999.safetensors'");
    json body = pixels_body(255);
    body["checkpoint"] = "../../x";
    require_error(api.predict(body.dump()), 400, "expected a file name");
}

TEST_CASE("board_api: predict classifies 784 pixels, and malformed or oversized bodies get 4xx", "[board_api]") {
    BoardRun& run = board_run();
    BoardApi api(run.ckpt, run.data);
    const ApiResponse ok = api.predict(pixels_body(255).dump());
    REQUIRE(ok.status == 200);
    const json p = json::parse(ok.body);
    CHECK(p["class"].get<int>() >= 0);
    CHECK(p["probabilities"].size() == 10);
    CHECK(p["preprocessed"].size() == 784);
    require_error(api.predict("{not json"), 400, "expected a JSON object");
    require_error(api.predict("[1,2,3]"), 400, "expected a JSON object");
    require_error(api.predict(R"({"pixels": [1, 2, 3]})"), 400, "found 3 values");
    require_error(api.predict(R"({"pixels": "abc"})"), 400, "found string");
    require_error(api.predict(pixels_body(300).dump()), 400, "expected a number 0..255, found 300");
    require_error(api.predict(pixels_body(0).dump()), 422, "no ink");
    require_error(api.predict(std::string(kMaxRequestBytes + 1, ' ')), 413, "at most");
}

TEST_CASE("board_api: nothing in the checkpoint directory is written, and deleted files are handled", "[board_api]") {
    BoardRun& run = board_run();
    const auto before = snapshot(run.ckpt);
    {
        BoardApi api(run.ckpt, run.data);
        api.metrics();
        api.checkpoints();
        api.eval("");
        api.predict(pixels_body(255).dump());
        api.eval("../x");
    }
    CHECK(snapshot(run.ckpt) == before);
    // A copy of the run whose newest file disappears (as retention deletes it while a trainer runs).
    testutil::TempDir tmp;
    fs::copy(run.ckpt, tmp / "ck");
    BoardApi api(tmp / "ck", run.data);
    const json list = json::parse(api.checkpoints().body);
    const std::string newest = list[0]["name"];
    fs::remove(tmp / ("ck/" + newest));
    require_error(api.eval(newest), 404, "no file");
    CHECK(api.checkpoints().status == 200);
}

TEST_CASE("board_api: concurrent evaluations run one at a time and give the same answer", "[board_api]") {
    BoardRun& run = board_run();
    BoardApi api(run.ckpt, run.data);
    std::vector<std::string> bodies(4);
    std::vector<std::thread> threads;
    for (auto& b : bodies) threads.emplace_back([&api, &b] { b = api.eval("latest").body; });
    for (auto& t : threads) t.join();
    for (const auto& b : bodies) CHECK(b == bodies[0]);
}
