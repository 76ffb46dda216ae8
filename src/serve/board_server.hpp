// ./board's HTTP server (cpp-httplib from Debian's libcpp-httplib-dev): the page's files, built
// into the binary, and the JSON API of board_api. Request bodies above kMaxRequestBytes are
// refused (413) before they are read whole; anything but the routes below is 404.
#pragma once
#include <functional>
#include <string>

#include "src/serve/board_api.hpp"

namespace mnist {

// Serves until stop() is called from another thread (or the process ends). `on_listening` is
// called with the bound port once the socket listens (port 0 asks for any free port).
// throws RequestError (status 0) when the address cannot be bound.
class BoardServer {
public:
    BoardServer(BoardApi& api);
    ~BoardServer();
    void listen(const std::string& host, int port, const std::function<void(int)>& on_listening);
    void stop();

private:
    struct Impl;
    Impl* impl_;
};

}  // namespace mnist
