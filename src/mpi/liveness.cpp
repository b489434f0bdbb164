#include "mpimerge/mpi/liveness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge::mpi {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a rank tries each of rank 0's addresses, and waits for rank 0 to answer its hello.
constexpr milliseconds kConnectTimeout{3000};
constexpr milliseconds kAnswerTimeout{10000};
// How long rank 0, having told the others that a rank is lost, waits for them to read it.
constexpr milliseconds kFarewellGrace{1000};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

Fd tcp_socket() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw Error(system_error("liveness watch: socket"));
  const int one = 1;  // beats are tiny and must not wait for more to send
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A line to a peer, best effort: a peer that cannot take it is lost, which its silence shows.
// MSG_NOSIGNAL: a closed connection is an error code, not SIGPIPE.
void send_line(int fd, const std::string& line) {
  const std::string text = line + "\n";
  [[maybe_unused]] const auto sent = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// Rank 0's IPv4 addresses, those of its network interfaces first and loopback last: a rank tries
// them in order (rank 0's host name may resolve to an address other nodes cannot reach).
std::vector<std::string> local_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) throw Error(system_error("liveness watch: getifaddrs"));
  std::vector<std::string> outside, loopback;
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_UP) == 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    ((a->ifa_flags & IFF_LOOPBACK) ? loopback : outside).emplace_back(text);
  }
  ::freeifaddrs(list);
  outside.insert(outside.end(), loopback.begin(), loopback.end());
  return outside;
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

std::string seconds_text(milliseconds ms) {
  std::ostringstream text;
  text << static_cast<double>(ms.count()) / 1000.0;
  return text.str();
}

// Waits until fd is ready for `events`, at most until `deadline`.
bool wait_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// Connects to rank 0 at one address and says hello; returns the connection once rank 0 answered
// with the job's cookie (a listener at that address that is not rank 0's watch does not).
Fd greet_root(const std::string& address, int port, const std::string& hello, const std::string& answer,
              std::string& why_not) {
  Fd fd = tcp_socket();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &to.sin_addr) != 1) {
    why_not = "not an IPv4 address";
    return {};
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    why_not = std::strerror(errno);
    return {};
  }
  if (!wait_ready(fd.get(), POLLOUT, Clock::now() + kConnectTimeout)) {
    why_not = "no connection within " + seconds_text(kConnectTimeout) + " s";
    return {};
  }
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    why_not = std::strerror(error);
    return {};
  }
  send_line(fd.get(), hello);
  std::string received;
  const auto deadline = Clock::now() + kAnswerTimeout;
  while (received.find('\n') == std::string::npos) {
    if (!wait_ready(fd.get(), POLLIN, deadline)) {
      why_not = "no answer within " + seconds_text(kAnswerTimeout) + " s";
      return {};
    }
    char buffer[256];
    const auto n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
      why_not = "connection closed before an answer";
      return {};
    }
    if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
  }
  if (received.substr(0, received.find('\n')) != answer) {
    why_not = "a listener that is not this job's rank 0";
    return {};
  }
  return fd;
}

std::mutex active_mutex;
LivenessWatch::State* active = nullptr;  // the process's running watch, for leave_liveness_watch

}  // namespace

// One connection: on rank 0 to each other rank, on the others to rank 0.
struct Peer {
  Fd fd;
  int rank = -1;  // rank 0's side: -1 until the peer's hello
  std::string host;
  std::string input;  // bytes received, not yet a whole line
  Clock::time_point heard;
  bool drop = false;  // its connection is over: removed after this turn
};

struct LivenessWatch::State {
  int rank = 0;
  int expected = 0;  // rank 0: the hellos still to come
  milliseconds timeout{}, interval{};
  std::string cookie;
  Fd listener;  // rank 0, until every rank said hello
  Fd wake;      // an eventfd: the main thread asks the watcher to leave
  std::vector<Peer> peers;
  std::atomic<bool> leaving{false};
  std::thread thread;

  ~State() { stop(); }

  void start() {
    wake = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake) throw Error(system_error("liveness watch: eventfd"));
    thread = std::thread([this] { watch(); });
    const std::lock_guard lock(active_mutex);
    active = this;
  }

  // The main thread: this rank leaves; the watcher says goodbye to its peers and ends.
  void stop() {
    {
      const std::lock_guard lock(active_mutex);
      if (active == this) active = nullptr;
    }
    if (!thread.joinable()) return;
    leaving = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake.get(), &one, sizeof one);
    thread.join();
  }

  void watch() {
    auto turn = Clock::now();
    auto next_beat = turn;
    while (!leaving && (listener || !peers.empty())) {
      std::vector<pollfd> fds{{wake.get(), POLLIN, 0}};
      if (listener) fds.push_back({listener.get(), POLLIN, 0});
      for (const auto& peer : peers) fds.push_back({peer.fd.get(), POLLIN, 0});
      const auto wait = std::clamp(std::chrono::duration_cast<milliseconds>(next_beat - Clock::now()),
                                   milliseconds(0), interval);
      ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
      if (leaving) break;

      const auto now = Clock::now();
      // This watcher did not run for a while (the whole job suspended, or a machine overloaded):
      // what it missed hearing says nothing about its peers.
      if (now - turn > timeout / 2) {
        for (auto& peer : peers) peer.heard = now;
      }
      turn = now;

      // fds: the eventfd, the listener if it was open, then the peers as they were at the poll.
      const bool listened = fds.size() > peers.size() + 1;
      const std::size_t first = listened ? 2 : 1;
      for (std::size_t i = 0; i < peers.size(); ++i) {
        if (fds[first + i].revents != 0) peers[i].drop = !read_peer(peers[i], now);
      }
      std::erase_if(peers, [](const Peer& p) { return p.drop; });
      if (listened && listener && (fds[1].revents & POLLIN)) accept_peers(now);
      for (const auto& peer : peers) {
        if (peer.rank >= 0 && now - peer.heard > timeout) {
          lost(peer, "nothing heard from it for " + seconds_text(timeout) +
                         " s (its node or its network is down, or it is stopped)");
        }
      }
      std::erase_if(peers, [&](const Peer& p) { return p.rank < 0 && now - p.heard > timeout; });
      if (now >= next_beat) {
        for (const auto& peer : peers) {
          if (peer.rank >= 0) send_line(peer.fd.get(), "beat");
        }
        next_beat = now + interval;
      }
    }
    for (const auto& peer : peers) {
      if (peer.rank >= 0) send_line(peer.fd.get(), "bye");
    }
  }

  void accept_peers(Clock::time_point now) {
    for (;;) {
      Fd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) return;
      const int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Peer peer;
      peer.fd = std::move(fd);
      peer.heard = now;
      peers.push_back(std::move(peer));
    }
  }

  // Reads what the peer sent; false once the connection is over and the peer is to be dropped.
  // A peer whose connection closed without its goodbye is lost (this does not return).
  bool read_peer(Peer& peer, Clock::time_point now) {
    char buffer[4096];
    for (;;) {
      const auto n = ::recv(peer.fd.get(), buffer, sizeof buffer, 0);
      if (n > 0) {
        peer.heard = now;
        peer.input.append(buffer, static_cast<std::size_t>(n));
        for (std::size_t end; (end = peer.input.find('\n')) != std::string::npos;) {
          const std::string line = peer.input.substr(0, end);
          peer.input.erase(0, end + 1);
          if (!handle_line(peer, line)) return false;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      // The connection is over without a goodbye: the process at its other end ended (or its
      // kernel reset the connection) while this job still ran.
      if (peer.rank < 0) return false;  // never said hello: not one of the job's ranks
      lost(peer, "its process ended without leaving the job (killed, or crashed)");
    }
  }

  // False when the peer is to be dropped (it left, or it is not one of the job's ranks).
  bool handle_line(Peer& peer, const std::string& line) {
    if (line == "bye") return false;  // it leaves on purpose: no longer watched
    if (rank == 0 && peer.rank < 0) {
      // hello COOKIE RANK HOST
      std::istringstream words(line);
      std::string word, cookie_seen, host;
      int from = -1;
      if (!(words >> word >> cookie_seen >> from >> host) || word != "hello" || cookie_seen != cookie) return false;
      peer.rank = from;
      peer.host = host;
      send_line(peer.fd.get(), "ok " + cookie);
      if (--expected == 0) listener.reset();  // everyone is here
      return true;
    }
    if (rank != 0 && line.rfind("lost ", 0) == 0) {
      // Rank 0 found another rank lost and printed why; this rank ends with it.
      std::_Exit(static_cast<int>(ExitCode::failure));
    }
    return true;  // a beat, or a line of a later version: a sign of life either way
  }

  // A peer is lost: one line naming it, and every rank ends. On rank 0 the others are told first,
  // and given a moment to read it, so that none of them reports rank 0 lost in turn.
  [[noreturn]] void lost(const Peer& peer, const std::string& why) {
    const std::string line = "rank " + std::to_string(rank == 0 ? peer.rank : 0) + " on " +
                             (peer.host.empty() ? std::string("an unknown host") : peer.host) + " is lost: " + why +
                             "; ending every rank (MPIMERGE_PEER_TIMEOUT=" + seconds_text(timeout) + ")";
    std::fprintf(stderr, "mpimerge: error (rank %d): %s\n", rank, line.c_str());
    std::fflush(stderr);
    if (rank == 0) {
      farewell(peer, line);
    } else {
      // Rank 0 may only be stopped: should it run again before the launcher ends it, this rank
      // has left on purpose, and is not reported lost in turn.
      send_line(peer.fd.get(), "bye");
    }
    std::_Exit(static_cast<int>(ExitCode::failure));
  }

  void farewell(const Peer& lost_peer, const std::string& line) {
    std::vector<pollfd> fds;
    for (const auto& peer : peers) {
      if (&peer == &lost_peer || peer.rank < 0) continue;
      send_line(peer.fd.get(), "lost " + line);
      ::shutdown(peer.fd.get(), SHUT_WR);
      fds.push_back({peer.fd.get(), POLLIN, 0});
    }
    // Each reads the line and ends, which closes its end: wait for that, reading what comes, so
    // that closing here resets no connection before its line was read.
    const auto deadline = Clock::now() + kFarewellGrace;
    std::size_t open = fds.size();
    while (open > 0 && wait_any(fds, deadline)) {
      for (auto& p : fds) {
        if (p.fd < 0 || p.revents == 0) continue;
        char buffer[4096];
        const auto n = ::recv(p.fd, buffer, sizeof buffer, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          p.fd = -1;  // poll skips negative descriptors
          --open;
        }
      }
    }
  }

  static bool wait_any(std::vector<pollfd>& fds, Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    return left > 0 && ::poll(fds.data(), fds.size(), static_cast<int>(left)) > 0;
  }
};

milliseconds peer_timeout_from_environment() {
  const char* text = std::getenv("MPIMERGE_PEER_TIMEOUT");
  if (text == nullptr) return kDefaultPeerTimeout;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(seconds) || (seconds != 0 && seconds < 1) || seconds > 86400) {
    throw UsageError("MPIMERGE_PEER_TIMEOUT=" + std::string(text) +
                     ": expected the seconds after which a silent rank counts as lost, 0 (no liveness watch) or "
                     "a number from 1 to 86400");
  }
  return milliseconds(std::llround(seconds * 1000));
}

LivenessWatch::LivenessWatch(const Comm& comm, milliseconds timeout) {
  if (comm.size() == 1) return;
  // Rank 0's set-up, sent to all: "TIMEOUT_MS COOKIE PORT HOST ADDRESS...", or "0" for no watch. Rank
  // 0's timeout holds everywhere, so that every rank beats and waits alike.
  auto state = std::make_unique<State>();
  state->rank = comm.rank();
  std::string setup = "0";
  std::exception_ptr error;
  if (comm.is_root() && timeout.count() > 0) {
    try {
      std::random_device random;
      state->cookie = std::to_string((std::uint64_t{random()} << 32) | random());
      state->listener = tcp_socket();
      sockaddr_in any{};
      any.sin_family = AF_INET;
      any.sin_addr.s_addr = htonl(INADDR_ANY);
      socklen_t length = sizeof any;
      if (::bind(state->listener.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0 ||
          ::listen(state->listener.get(), SOMAXCONN) != 0 ||
          ::getsockname(state->listener.get(), reinterpret_cast<sockaddr*>(&any), &length) != 0) {
        throw Error(system_error("liveness watch: a listening TCP socket"));
      }
      setup = std::to_string(timeout.count()) + " " + state->cookie + " " + std::to_string(ntohs(any.sin_port)) + " " +
              host_name();
      for (const auto& address : local_addresses()) setup += " " + address;
    } catch (...) {
      error = std::current_exception();
      setup = "0";
    }
  }
  comm.broadcast(setup);
  std::istringstream words(setup);
  long long timeout_ms = 0;
  int port = 0;
  std::string root_host;
  words >> timeout_ms >> state->cookie >> port >> root_host;
  if (timeout_ms > 0) {
    state->timeout = milliseconds(timeout_ms);
    state->interval = std::clamp(state->timeout / 6, milliseconds(100), milliseconds(5000));
    try {
      if (comm.is_root()) {
        state->expected = comm.size() - 1;
        state->start();  // accepts the others' connections while they connect
      } else {
        const std::string hello = "hello " + state->cookie + " " + std::to_string(comm.rank()) + " " + host_name();
        std::string tried;
        for (std::string address; words >> address && !state->peers.size();) {
          std::string why_not;
          if (Fd fd = greet_root(address, port, hello, "ok " + state->cookie, why_not)) {
            Peer root;
            root.fd = std::move(fd);
            root.rank = 0;
            root.host = root_host;
            root.heard = Clock::now();
            state->peers.push_back(std::move(root));
          } else {
            tried += (tried.empty() ? "" : ", ") + address + ":" + std::to_string(port) + " (" + why_not + ")";
          }
        }
        if (state->peers.empty()) {
          throw Error("rank " + std::to_string(comm.rank()) + " on " + host_name() +
                      " cannot reach rank 0's liveness watch at " + tried +
                      "; MPIMERGE_PEER_TIMEOUT=0 runs without it");
        }
        state->start();
      }
    } catch (...) {
      error = std::current_exception();
    }
  }
  comm.agree(error);  // throws on every rank if any failed; the state's destructor stops its watcher
  if (timeout_ms > 0) state_ = std::move(state);
}

LivenessWatch::~LivenessWatch() = default;

void leave_liveness_watch() {
  LivenessWatch::State* state = nullptr;
  {
    const std::lock_guard lock(active_mutex);
    state = active;
  }
  if (state != nullptr) state->stop();
}

}  // namespace mpimerge::mpi
