// End-to-end training on a small synthetic data set: learning works, and a run interrupted at any
// point (epoch end, mid-epoch save, stop signal, other thread count) and resumed ends with tensors
// byte-identical to an uninterrupted run.
#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <set>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "src/checkpoint/io_seam.hpp"
#include "src/model/evaluate.hpp"
#include "src/train/trainer.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using testutil::run;
using testutil::TempDir;

namespace {

// Every tensor of the newest checkpoint in dir, bytes.
std::vector<Tensor> final_tensors(const std::string& dir) {
    const std::vector<uint8_t> bytes = testutil::read_bytes(latest_checkpoint(dir));
    return decode_safetensors(bytes, dir).tensors;
}

void require_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        INFO("tensor " << a[i].name);
        REQUIRE(a[i].name == b[i].name);
        REQUIRE(a[i].bytes == b[i].bytes);
    }
}

}  // namespace

TEST_CASE("trainer: a small run learns the synthetic classes and saves one checkpoint per epoch", "[trainer]") {
    testutil::TrainingFixture f;
    const TrainConfig c = f.config;
    const TrainOutcome out = run(c);
    CHECK(out.global_step == 3 * (1000 / 16));
    CHECK(out.epochs_done == 3);
    CHECK(list_checkpoint_files(c.ckpt_dir).size() == 3);
    const TrainingState st = read_checkpoint(latest_checkpoint(c.ckpt_dir));
    EvalWorkspace ws = make_eval_workspace(st.net);
    const Mnist data = load_mnist(c.data_dir, 100);
    CHECK(evaluate(st.net, data.test, ws).accuracy > 0.9);
}

TEST_CASE("trainer: stopped after an epoch and resumed ends byte-identical to an uninterrupted run", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig whole = f.config_in("whole");
    run(whole);

    TrainConfig parts = f.config_in("parts");
    parts.epochs = 1;
    run(parts);
    parts.epochs = 3;
    const TrainOutcome out = run(parts);
    CHECK(out.epochs_done == 2);
    require_identical(final_tensors(whole.ckpt_dir), final_tensors(parts.ckpt_dir));
}

TEST_CASE("trainer: resumed step by step after stop signals on changing thread counts, the weights are byte-identical",
          "[trainer]") {
    testutil::TrainingFixture f(300, 100);
    TrainConfig whole = f.config_in("whole");
    whole.epochs = 2;
    whole.threads = 1;
    run(whole);

    // Each run takes one step, then finds the stop request, saves mid-epoch and returns.
    TrainConfig parts = f.config_in("parts");
    parts.epochs = 2;
    const int64_t total = 2 * (200 / 16);
    int runs = 0;
    for (int64_t step = 0; step < total; ++step, ++runs) {
        parts.threads = 1 + runs % 3;
        const TrainOutcome out = run(parts, /*stop=*/15);
        REQUIRE(out.stopped_by_signal == 15);
        REQUIRE(out.global_step == step + 1);
    }
    CHECK(runs == total);
    require_identical(final_tensors(whole.ckpt_dir), final_tensors(parts.ckpt_dir));
}

TEST_CASE("trainer: with --threads 0 the team follows the step times, and the weights match a one-thread run",
          "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig one = f.config_in("one");
    one.threads = 1;
    run(one);
    // On more than one core the team tuner probes one thread fewer after the first 20 steps (and
    // may move), whatever the step times: the team changes during this run.
    TrainConfig tuned = f.config_in("tuned");
    tuned.threads = 0;
    run(tuned);
    require_identical(final_tensors(one.ckpt_dir), final_tensors(tuned.ckpt_dir));
}

TEST_CASE("trainer: mid-epoch saves every N steps resume at the next batch of the same epoch order", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig whole = f.config_in("whole");
    whole.epochs = 2;
    run(whole);

    TrainConfig parts = f.config_in("parts");
    parts.epochs = 2;
    parts.save_every_steps = 5;
    parts.max_to_keep = 0;
    run(parts);
    // Throw away everything after the mid-epoch checkpoint at step 70 (epoch 2, batch 8) and resume there.
    for (const auto& [step, name] : list_checkpoint_files(parts.ckpt_dir))
        if (step > 70) std::filesystem::remove(std::filesystem::path(parts.ckpt_dir) / name);
    std::filesystem::remove(std::filesystem::path(parts.ckpt_dir) / "checkpoint");
    REQUIRE(read_checkpoint(latest_checkpoint(parts.ckpt_dir)).global_step == 70);
    parts.threads = 1;
    run(parts);
    require_identical(final_tensors(whole.ckpt_dir), final_tensors(parts.ckpt_dir));
}

TEST_CASE("trainer: resuming with other hidden widths is refused, naming the setting", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    c.epochs = 1;
    run(c);
    const auto before = testutil::read_bytes(latest_checkpoint(c.ckpt_dir));
    c.hidden = {30, 32};
    c.epochs = 2;
    REQUIRE_THROWS_WITH(run(c), Catch::Matchers::Contains("hidden") && Catch::Matchers::Contains("64,32"));
    c.hidden = {64, 32};
    c.batch_size = 20;
    REQUIRE_THROWS_WITH(run(c), Catch::Matchers::Contains("batch_size"));
    CHECK(testutil::read_bytes(latest_checkpoint(c.ckpt_dir)) == before);
    CHECK(list_checkpoint_files(c.ckpt_dir).size() == 1);
}

TEST_CASE("trainer: a finished run rerun with the same epochs trains nothing and changes nothing", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    c.epochs = 1;
    run(c);
    const auto before = testutil::read_bytes(latest_checkpoint(c.ckpt_dir));
    const TrainOutcome again = run(c);
    CHECK(again.epochs_done == 0);
    CHECK(again.global_step == 1000 / 16);
    CHECK(testutil::read_bytes(latest_checkpoint(c.ckpt_dir)) == before);
}

TEST_CASE("trainer: three failed saves in a row stop the run with a clear message", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    c.epochs = 4;  // the third failure (of the save at the end of epoch 3) settles mid-run, at the end of epoch 4
    const Mnist data = load_mnist(c.data_dir, 100);
    std::atomic<int> signal{0};
    REQUIRE_THROWS_WITH(train(c, data, signal, FaultPoint::write_error),
                        Catch::Matchers::Contains("3 saves failed in a row"));
    CHECK(list_checkpoint_files(c.ckpt_dir).empty());
    for (const auto& entry : std::filesystem::directory_iterator(c.ckpt_dir))
        CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("trainer: a 3-hidden-layer run warm-started with the first two weights of a 2-hidden-layer checkpoint "
          "starts from them, trains and resumes",
          "[trainer]") {
    testutil::TrainingFixture f;
    const TempDir& tmp = f.tmp;
    TrainConfig small = f.config_in("small");
    small.epochs = 1;
    run(small);
    const std::string source = latest_checkpoint(small.ckpt_dir);
    const TensorFile src = decode_safetensors(testutil::read_bytes(source), source);

    TrainConfig deep = f.config_in("deep");
    deep.hidden = {64, 32, 32};
    deep.epochs = 1;
    deep.init_from = source;
    deep.init_map = "w_h=w_h,w_h2";
    const std::vector<int> sizes = {196, 64, 32, 32, 10};
    const TrainingState start = new_run_state(deep, 196, 1000 / 16);
    const Mlp drawn = init_mlp(sizes, deep.seed);
    REQUIRE(start.net.sizes == sizes);
    CHECK(start.global_step == 0);
    for (size_t l = 0; l < 4; ++l) {
        INFO("layer " << l);
        const Matrix& w = start.net.weights[l];
        const std::vector<uint8_t> bytes(reinterpret_cast<const uint8_t*>(w.data()),
                                         reinterpret_cast<const uint8_t*>(w.data() + w.size()));
        if (l < 2) CHECK(bytes == src.find(weight_name(l, 4))->bytes);
        else CHECK(std::memcmp(w.data(), drawn.weights[l].data(), sizeof(float) * size_t(w.size())) == 0);
        CHECK((start.opt.ms[l].array() == 1.0f).all());
        CHECK((start.opt.mom[l].array() == 0.0f).all());
    }

    // Trained one epoch, then rerun with --init_from still given: it resumes, and ends byte-identical
    // to a warm-started run never stopped.
    CHECK(run(deep).global_step == 1000 / 16);
    deep.epochs = 2;
    const TrainOutcome resumed = run(deep);
    CHECK(resumed.epochs_done == 1);
    CHECK(resumed.global_step == 2 * (1000 / 16));
    TrainConfig whole = deep;
    whole.ckpt_dir = tmp / "whole";
    run(whole);
    require_identical(final_tensors(whole.ckpt_dir), final_tensors(deep.ckpt_dir));

    // The checkpoints record how the run started, also after a rerun that no longer names the file.
    deep.init_from.clear();
    deep.init_map.clear();
    deep.epochs = 3;
    run(deep);
    const TrainingState last = read_checkpoint(latest_checkpoint(deep.ckpt_dir));
    CHECK(last.global_step == 3 * (1000 / 16));
    CHECK(last.config.init_from == source);
    CHECK(last.config.init_map == "w_h=w_h,w_h2");
}

TEST_CASE("trainer: a warm start that does not fit the new model fails listing each name and writes nothing",
          "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig small = f.config_in("small");
    small.epochs = 1;
    run(small);

    TrainConfig deep = f.config_in("deep");
    deep.hidden = {64, 16, 32};
    deep.init_from = latest_checkpoint(small.ckpt_dir);
    deep.init_map = "w_h,w_h2,w_h3";
    REQUIRE_THROWS_WITH(run(deep), Catch::Matchers::Contains("w_h2: shape mismatch (new model: w_h2 F32 [64, 16]; "
                                                             "file: w_h2 F32 [64, 32])") &&
                                       Catch::Matchers::Contains("the file has no tensor 'w_h3'"));
    CHECK_FALSE(std::filesystem::exists(deep.ckpt_dir));

    // Without a map every weight name in both is taken, and their shapes must fit too.
    deep.init_map.clear();
    REQUIRE_THROWS_WITH(run(deep), Catch::Matchers::Contains("w_h2: shape mismatch"));
    CHECK_FALSE(std::filesystem::exists(deep.ckpt_dir));
    deep.hidden = {64, 32, 32};
    CHECK(run(deep).epochs_done == 3);
}

// The end of a run tells the truth about the disk; every filesystem call of a save can fail or be the
// last one before a crash, and nothing is lost.

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using DirBytes = std::map<std::string, std::vector<uint8_t>>;  // file name -> content

// The files of a checkpoint directory that a restore reads (not the lock, not the curve).
DirBytes snapshot(const std::string& dir) {
    DirBytes out;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name != ".lock" && name != "metrics.jsonl") out[name] = testutil::read_bytes(e.path().string());
    }
    return out;
}

void write_snapshot(const DirBytes& files, const std::string& dir) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& [name, bytes] : files) testutil::write_bytes((fs::path(dir) / name).string(), bytes);
}

struct SeamReset {
    ~SeamReset() {
        io::set_faults({});
        io::set_observer({});
    }
};

// Every file the state file names exists.
void require_state_file_names_existing_files(const std::string& dir) {
    if (!fs::exists(fs::path(dir) / "checkpoint")) return;
    const std::vector<uint8_t> bytes = testutil::read_bytes(dir + "/checkpoint");
    const CheckpointState st = parse_checkpoint_state(std::string(bytes.begin(), bytes.end()), dir);
    REQUIRE(fs::exists(fs::path(dir) / st.model_checkpoint_path));
    for (const std::string& p : st.all_model_checkpoint_paths) REQUIRE(fs::exists(fs::path(dir) / p));
}

// One epoch on the synthetic set with a small network, keeping one checkpoint; the save at its end
// is one whole save + retention cycle (the checkpoint, the state file, the deletion of the old one).
struct SaveCycle {
    testutil::TrainingFixture f;
    TrainConfig c;
    Mnist data;
    DirBytes before;              // the directory after epoch 1
    std::vector<Tensor> wanted;   // the final tensors of an uninterrupted 2-epoch run
    SaveCycle() : c(f.config), data(load_mnist(f.config.data_dir, 100)) {
        c.hidden = {16};
        c.epochs = 2;
        c.max_to_keep = 1;
        c.threads = 1;
        TrainConfig whole = c;
        whole.ckpt_dir = f.tmp / "whole";
        train_to(whole);
        wanted = final_tensors(whole.ckpt_dir);
        TrainConfig first = c;
        first.ckpt_dir = f.tmp / "first";
        first.epochs = 1;
        train_to(first);
        before = snapshot(first.ckpt_dir);
    }
    TrainOutcome train_to(const TrainConfig& t, int stop = 0) {
        std::atomic<int> signal{stop};
        return train(t, data, signal, FaultPoint::none, {}, FinalSaveRetries{2, 0.0});
    }
    // The run of epoch 2 from `before`, in a directory of its own.
    TrainConfig in(const std::string& name) {
        TrainConfig t = c;
        t.ckpt_dir = f.tmp / name;
        write_snapshot(before, t.ckpt_dir);
        return t;
    }
};

}  // namespace

TEST_CASE("trainer: a save cycle failing at any filesystem call with ENOSPC or EIO or EDQUOT or EROFS (once or "
          "from then on) ends with the truth and loses nothing", "[trainer]") {
    SeamReset reset;
    SaveCycle cycle;
    const int64_t last = cycle.c.epochs * (1000 / 16);
    io::set_faults({});
    cycle.train_to(cycle.in("count"));
    const int64_t calls = io::calls();
    REQUIRE(calls == 12);  // (open, write, fsync, rename, fsync_dir) x 2 files, unlink, fsync_dir
    int points = 0, failed_runs = 0;
    for (int err : {ENOSPC, EIO, EDQUOT, EROFS}) {
        for (bool persistent : {true, false}) {
            for (int64_t n = 1; n <= calls; ++n) {
                INFO("errno " << err << " at call " << n << (persistent ? " and every later call" : " only"));
                const TrainConfig t = cycle.in("fault");
                io::set_faults({n, err, persistent});
                std::string error;
                try {
                    cycle.train_to(t);
                } catch (const SaveError& e) {
                    error = e.what();
                }
                io::set_faults({});
                const LatestSearch found = find_latest_checkpoint(t.ckpt_dir, 1);
                REQUIRE(found.latest);
                if (error.empty()) {  // a normal return says the state reached is on disk
                    REQUIRE(found.latest->state.global_step == last);
                    REQUIRE_FALSE(found.latest->file.empty());
                } else {  // SaveError says so, naming the step, the reason and the newest file on disk
                    ++failed_runs;
                    REQUIRE(persistent);
                    REQUIRE_THAT(error, Contains("global_step " + std::to_string(last)) &&
                                            Contains(std::strerror(err)) && Contains(found.latest->path));
                }
                // Each checkpoint that was there before is there byte for byte, unless the new one
                // landed and retention dropped it.
                for (const auto& [name, bytes] : cycle.before) {
                    if (name == "checkpoint") continue;
                    const std::string path = (fs::path(t.ckpt_dir) / name).string();
                    if (fs::exists(path)) REQUIRE(testutil::read_bytes(path) == bytes);
                    else REQUIRE(error.empty());
                }
                require_state_file_names_existing_files(t.ckpt_dir);
                cycle.train_to(t);  // the rerun, with the disk healthy again
                require_identical(final_tensors(t.ckpt_dir), cycle.wanted);
                ++points;
            }
        }
    }
    // Failure points covered: 12 calls x 4 errnos x (once, from then on) = 96.
    CHECK(points == 96);
    CHECK(failed_runs > 0);
    WARN("fault injection: " << points << " failure points, " << failed_runs << " of them ending in SaveError");
}

TEST_CASE("trainer: a crash after any filesystem call of a save cycle leaves a directory that restores a valid "
          "checkpoint and resumes to the same end", "[trainer]") {
    SeamReset reset;
    SaveCycle cycle;
    TrainConfig t = cycle.in("crash");
    std::vector<DirBytes> crashes;
    std::set<std::string> unsynced;  // written since their last fsync: a crash may leave them empty
    io::set_observer([&](io::Op op, const std::string& path, bool ok) {
        const std::string name = fs::path(path).filename().string();
        if (ok && (op == io::Op::open || op == io::Op::write)) unsynced.insert(name);
        if (ok && op == io::Op::fsync) unsynced.erase(name);
        crashes.push_back(snapshot(t.ckpt_dir));
        DirBytes emptied = crashes.back();
        bool any = false;
        for (const std::string& u : unsynced)
            if (emptied.count(u) && !emptied[u].empty()) emptied[u].clear(), any = true;
        if (any) crashes.push_back(emptied);
    });
    cycle.train_to(t);
    io::set_observer({});
    REQUIRE(crashes.size() >= 12);
    for (size_t i = 0; i < crashes.size(); ++i) {
        INFO("crash point " << i);
        TrainConfig resumed = cycle.c;
        resumed.ckpt_dir = cycle.f.tmp / "resumed";
        write_snapshot(crashes[i], resumed.ckpt_dir);
        const LatestSearch found = find_latest_checkpoint(resumed.ckpt_dir, 1);
        REQUIRE(found.latest);  // epoch 1's checkpoint, or epoch 2's when it is whole
        cycle.train_to(resumed);
        require_identical(final_tensors(resumed.ckpt_dir), cycle.wanted);
    }
    WARN("crash prefixes: " << crashes.size() << " crash points resumed");
}

TEST_CASE("trainer: a run that saved nothing and cannot save its end says that no checkpoint was saved and never "
          "that training goes on", "[trainer]") {
    SeamReset reset;
    testutil::TrainingFixture f;
    testutil::CapturedLog log;
    TrainConfig c = f.config;
    c.epochs = 1;
    const Mnist data = load_mnist(c.data_dir, 100);
    std::atomic<int> signal{0};
    io::set_faults({1, ENOSPC, true});
    REQUIRE_THROWS_WITH(train(c, data, signal, FaultPoint::none, {}, FinalSaveRetries{3, 0.0}),
                        Contains("reached global_step 62") && Contains("No checkpoint was saved in '" + c.ckpt_dir) &&
                            Contains("No space left on device"));
    CHECK_THAT(log.str(), Contains("attempt 3 of 3"));
    CHECK_FALSE(log.str().find("training goes on") != std::string::npos);
}

TEST_CASE("trainer: the save at a stop signal that cannot land ends with SaveError naming the newest checkpoint on "
          "disk", "[trainer]") {
    SeamReset reset;
    testutil::TrainingFixture f;
    testutil::CapturedLog log;
    TrainConfig c = f.config;
    c.epochs = 1;
    run(c);
    c.epochs = 3;
    const Mnist data = load_mnist(c.data_dir, 100);
    std::atomic<int> signal{SIGTERM};  // already received: one step, then the save at the signal
    io::set_faults({1, EIO, true});
    REQUIRE_THROWS_WITH(train(c, data, signal, FaultPoint::none, {}, FinalSaveRetries{2, 0.0}),
                        Contains("reached global_step 63") &&
                            Contains("newest checkpoint on disk is '" + c.ckpt_dir + "/model-62.safetensors'"));
    CHECK_FALSE(log.str().find("training goes on") != std::string::npos);
    io::set_faults({});
    const TrainOutcome again = train(c, data, signal, FaultPoint::none, {}, FinalSaveRetries{2, 0.0});
    CHECK(again.stopped_by_signal == SIGTERM);
    CHECK(again.global_step == 63);
}

TEST_CASE("trainer: a final save that fails once is retried and the run ends normally", "[trainer]") {
    SeamReset reset;
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    c.epochs = 1;
    const Mnist data = load_mnist(c.data_dir, 100);
    std::atomic<int> signal{0};
    io::set_faults({2, ENOSPC, false});
    const TrainOutcome out = train(c, data, signal, FaultPoint::none, {}, FinalSaveRetries{2, 0.0});
    CHECK(out.global_step == 62);
    CHECK(out.last_checkpoint == "model-62.safetensors");
    CHECK(read_checkpoint(latest_checkpoint(c.ckpt_dir)).global_step == 62);
}
