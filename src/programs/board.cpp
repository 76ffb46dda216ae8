// ./board: a local web page showing a training run (curves from metrics.jsonl, the checkpoints, an
// evaluation of a chosen one) and a canvas to draw digits on. Reads --ckpt_dir, never writes it.
#include <csignal>
#include <cstdio>
#include <spdlog/spdlog.h>

#include "src/cli/options.hpp"
#include "src/serve/board_server.hpp"

namespace {
mnist::BoardServer* g_server = nullptr;
}

int main(int argc, char** argv) {
    using namespace mnist;
    try {
        const BoardOptions o = parse_board_options(argc, argv);
        if (o.exit_now) return o.exit_code;
        BoardApi api(o.ckpt_dir, o.data_dir);
        BoardServer server(api);
        g_server = &server;
        std::signal(SIGINT, [](int) { g_server->stop(); });
        std::signal(SIGTERM, [](int) { g_server->stop(); });
        server.listen(o.host, o.port, [&](int port) {
            spdlog::info("board: showing '{}' on http://{}:{}/ (Ctrl-C stops)", o.ckpt_dir, o.host, port);
            std::fflush(stdout);
        });
        return 0;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
