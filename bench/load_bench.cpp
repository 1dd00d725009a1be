// load_bench: drives a running Despatch server over HTTP/1.1 and prints send throughput, server
// CPU per message, send-to-/sync delivery latency with many /syncs parked, and server memory.
// The server's CPU and memory come from /proc/<pid>, so the bench must run on the same host.
// scripts/bench.sh starts a fresh server and runs this against it.
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using asio::awaitable;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

const char* kUsage = R"(Usage: load_bench --port PORT --pid SERVER_PID [options]

Benchmarks a running Despatch server started with --open-registration --no-rate-limit.

  --host ADDR         server address (default 127.0.0.1)
  --port PORT         server port (required)
  --pid PID           server process id, for CPU and memory from /proc (required)
  --sequential N      messages sent one after another on one connection (default 2000)
  --senders N         concurrent sending connections (default 1000)
  --rooms N           sending users, one room each; senders are spread over them (default 100)
  --messages N        messages per concurrent sender (default 20)
  --parked N          extra /sync long-polls parked during the latency probe (default 10000)
  --parked-users N    idle users those /syncs belong to (default 100)
  --samples N         latency probe samples (default 200)
  --quick             small sizes for a smoke run (flags after it still apply)
)";

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int pid = 0;
  int sequential = 2000;
  int senders = 1000;
  int rooms = 100;
  int messages = 20;
  int parked = 10000;
  int parked_users = 100;
  int samples = 200;
};

// Any failure ends the run at once: the figures would be meaningless and the server state
// unknown. _Exit skips destructors of the thousands of live sockets and coroutines.
[[noreturn]] void die(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "load_bench: FAILED: %s\n", msg.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

// ---- the server process, seen through /proc ----

class ServerProc {
 public:
  explicit ServerProc(int pid) : dir_("/proc/" + std::to_string(pid)) {}

  // utime + stime of the whole process in seconds.
  double cpu_seconds() const {
    auto t = stat_cpu(dir_ + "/stat");
    if (!t) die("server process is gone (" + dir_ + "/stat unreadable)");
    return *t;
  }

  // utime + stime of each thread, by thread id.
  std::map<int, double> thread_cpu() const {
    std::map<int, double> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir_ + "/task", ec)) {
      if (auto t = stat_cpu(e.path().string() + "/stat"))
        out[std::atoi(e.path().filename().c_str())] = *t;
    }
    return out;
  }

  long rss_kb() const {
    std::ifstream f(dir_ + "/status");
    if (!f) die("server process is gone (" + dir_ + "/status unreadable)");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    die("no VmRSS in " + dir_ + "/status");
  }

  // Per-thread CPU between two thread_cpu() snapshots, busiest first, as "2.41 s, 0.50 s, ...":
  // with one thread far ahead, that thread is the bottleneck.
  static std::string busiest(const std::map<int, double>& before,
                             const std::map<int, double>& after) {
    std::vector<double> used;
    for (auto& [tid, t] : after) {
      auto it = before.find(tid);
      used.push_back(t - (it == before.end() ? 0 : it->second));
    }
    std::sort(used.rbegin(), used.rend());
    std::string out;
    for (size_t i = 0; i < used.size() && i < 5 && used[i] > 0; ++i) {
      char b[32];
      std::snprintf(b, sizeof b, "%s%.2f s", i ? ", " : "", used[i]);
      out += b;
    }
    return (out.empty() ? "none" : out) + " (" + std::to_string(after.size()) + " threads)";
  }

  int open_sockets() const {
    int n = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir_ + "/fd", ec)) {
      std::error_code lec;
      auto target = std::filesystem::read_symlink(e.path(), lec);
      if (!lec && target.string().rfind("socket:", 0) == 0) ++n;
    }
    return n;
  }

 private:
  // utime + stime in seconds from a /proc stat file, or nothing if it cannot be read.
  static std::optional<double> stat_cpu(const std::string& path) {
    std::ifstream f(path);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = s.rfind(')');  // the command name may contain spaces
    if (close == std::string::npos || close + 2 > s.size()) return std::nullopt;
    std::istringstream in(s.substr(close + 2));
    std::string field;
    long long utime = 0, stime = 0;
    // After the name: state is field 3, utime field 14, stime field 15.
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14) utime = std::stoll(field);
      if (i == 15) stime = std::stoll(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  std::string dir_;
};

// ---- a keep-alive HTTP/1.1 client connection ----

struct Reply {
  int status = 0;
  std::string body;
  Clock::time_point at;  // when the whole reply had been read
  json::object json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) die("reply is not a JSON object: " + body.substr(0, 500));
    return std::move(v.as_object());
  }
};

class Client {
 public:
  Client(asio::any_io_executor ex, const tcp::endpoint& ep, std::string host)
      : stream_(ex), ep_(ep), host_(std::move(host)) {}

  awaitable<void> connect() {
    stream_.expires_after(30s);
    auto [ec] = co_await stream_.async_connect(ep_, kTuple);
    if (ec) die("connect to " + host_ + ": " + ec.message());
    stream_.socket().set_option(tcp::no_delay(true));
  }

  // Writes one request without waiting for its reply (used to park /syncs).
  awaitable<void> write(bhttp::verb verb, const std::string& target, std::string_view token,
                        std::string_view body) {
    bhttp::request<bhttp::string_body> req{verb, target, 11};
    req.set(bhttp::field::host, host_);
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + std::string(token));
    if (verb != bhttp::verb::get) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    last_ = std::string(bhttp::to_string(verb)) + " " + target;
    stream_.expires_after(30s);
    auto [ec, n] = co_await bhttp::async_write(stream_, req, kTuple);
    if (ec) die(last_ + ": writing the request: " + ec.message());
  }

  // Reads the reply to the last request. On a transport error or timeout returns nothing and
  // error() says what happened; a reply other than 200 aborts the run.
  awaitable<std::optional<Reply>> try_read(Clock::duration timeout) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256 << 20);
    stream_.expires_after(timeout);
    auto [ec, n] = co_await bhttp::async_read(stream_, buf_, parser, kTuple);
    if (ec == beast::error::timeout) {
      error_ = last_ + ": no reply within " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
               " s (server stalled?)";
      co_return std::nullopt;
    }
    if (ec) {
      error_ = last_ + ": reading the reply: " + ec.message();
      co_return std::nullopt;
    }
    Reply r{static_cast<int>(parser.get().result_int()), std::move(parser.get().body()),
            Clock::now()};
    if (r.status != 200)
      die(last_ + ": HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 2000));
    if (!parser.get().keep_alive()) die(last_ + ": server closed the keep-alive connection");
    co_return r;
  }

  awaitable<Reply> read(Clock::duration timeout) {
    auto r = co_await try_read(timeout);
    if (!r) die(error_);
    co_return std::move(*r);
  }

  const std::string& error() const { return error_; }

  awaitable<Reply> call(bhttp::verb verb, const std::string& target, std::string_view token,
                        std::string_view body, Clock::duration timeout = 60s) {
    co_await write(verb, target, token, body);
    co_return co_await read(timeout);
  }

  // Closes the socket; a pending read then completes with an error.
  void close() {
    boost::system::error_code ec;
    stream_.socket().close(ec);
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  tcp::endpoint ep_;
  std::string host_;
  std::string last_;  // "METHOD target" of the request in flight, for error messages
  std::string error_;
};

// ---- running many coroutines ----

// Runs every task concurrently and resumes once all have finished. A task that throws ends the
// run (tasks report their own failures through die(), so this is a bug path).
awaitable<void> run_all(std::vector<awaitable<void>> tasks) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer done(ex, Clock::time_point::max());
  size_t left = tasks.size();
  for (auto& t : tasks)
    asio::co_spawn(ex, std::move(t), [&left, &done](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          die(std::string("unexpected exception: ") + ex.what());
        }
      }
      if (--left == 0) done.cancel();
    });
  if (left > 0) co_await done.async_wait(kTuple);
}

awaitable<void> limited_worker(size_t* next, size_t count,
                               const std::function<awaitable<void>(size_t)>* fn) {
  while (*next < count) co_await (*fn)((*next)++);
}

// Calls fn(0..count-1) with at most `width` calls in flight.
awaitable<void> for_each_limited(size_t count, size_t width,
                                 std::function<awaitable<void>(size_t)> fn) {
  size_t next = 0;
  std::vector<awaitable<void>> workers;
  for (size_t i = 0; i < std::min(width, count); ++i)
    workers.push_back(limited_worker(&next, count, &fn));
  co_await run_all(std::move(workers));
}

awaitable<void> sleep_for(Clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(kTuple);
}

// ---- Matrix calls ----

struct User {
  std::string user_id;
  std::string token;
  std::string room_id;  // the room this user created, if any
};

std::string url_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string field(const json::object& o, const char* key, const std::string& what) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) die(what + ": reply has no string \"" + key + "\"");
  return std::string(v->as_string());
}

class Bench {
 public:
  Bench(asio::io_context& io, Options opts)
      : io_(io), opts_(std::move(opts)), server_(opts_.pid),
        ep_(asio::ip::make_address(opts_.host), static_cast<uint16_t>(opts_.port)),
        host_header_(opts_.host + ":" + std::to_string(opts_.port)),
        run_tag_(std::to_string(std::time(nullptr) % 100000)) {}

  awaitable<void> run();

 private:
  std::unique_ptr<Client> new_client() {
    return std::make_unique<Client>(io_.get_executor(), ep_, host_header_);
  }

  awaitable<User> register_user(std::string localpart);
  awaitable<std::string> create_room(Client& c, const User& u);
  awaitable<std::string> send_message(Client& c, const User& u, const std::string& room_id);
  awaitable<std::string> initial_sync_token(Client& c, const User& u);
  awaitable<void> register_many(std::vector<User>& out, const std::string& prefix, int n,
                                bool with_room);

  awaitable<void> sequential_phase();
  awaitable<void> concurrent_phase();
  awaitable<void> sender(Client* c, const User* u, int count, std::vector<double>* lat_ms);
  awaitable<void> latency_phase();
  awaitable<void> park(Client* c, std::string token, std::string since);
  awaitable<Clock::time_point> timed_send(Client& c, const User& u, std::string* event_id);
  awaitable<int> wait_until_settled(int want_sockets);

  asio::io_context& io_;
  Options opts_;
  ServerProc server_;
  tcp::endpoint ep_;
  std::string host_header_;
  std::string run_tag_;  // keeps user names unique if the bench runs twice on one server
  uint64_t txn_ = 0;

  // Parked /sync bookkeeping.
  int parked_written_ = 0;                  // first requests written
  std::vector<double> parked_returned_at_;  // seconds after which a parked /sync returned
  bool parked_closing_ = false;             // set before the bench closes their sockets

  long rss_idle_kb_ = 0, rss_sequential_kb_ = 0, rss_concurrent_kb_ = 0, rss_before_park_kb_ = 0,
       rss_parked_kb_ = 0;
};

awaitable<User> Bench::register_user(std::string localpart) {
  auto c = new_client();
  co_await c->connect();
  json::object body{{"username", localpart},
                    {"password", "bench-password-" + localpart},
                    {"auth", json::object{{"type", "m.login.dummy"}}}};
  const std::string target = "/_matrix/client/v3/register";
  const std::string text = json::serialize(body);
  auto r = co_await c->call(bhttp::verb::post, target, {}, text);
  auto o = r.json();
  User u;
  u.user_id = field(o, "user_id", "register " + localpart);
  u.token = field(o, "access_token", "register " + localpart);
  co_return u;
}

awaitable<std::string> Bench::create_room(Client& c, const User& u) {
  const std::string target = "/_matrix/client/v3/createRoom";
  const std::string body = R"({"preset":"public_chat"})";
  auto r = co_await c.call(bhttp::verb::post, target, u.token, body);
  co_return field(r.json(), "room_id", "createRoom for " + u.user_id);
}

awaitable<std::string> Bench::send_message(Client& c, const User& u, const std::string& room_id) {
  uint64_t txn = ++txn_;
  std::string target = "/_matrix/client/v3/rooms/" + url_encode(room_id) +
                       "/send/m.room.message/b" + run_tag_ + "t" + std::to_string(txn);
  std::string body = R"({"msgtype":"m.text","body":"load bench message )" +
                     std::to_string(txn) + R"("})";
  auto r = co_await c.call(bhttp::verb::put, target, u.token, body);
  co_return field(r.json(), "event_id", "send");
}

awaitable<std::string> Bench::initial_sync_token(Client& c, const User& u) {
  const std::string target = "/_matrix/client/v3/sync?timeout=0";
  auto r = co_await c.call(bhttp::verb::get, target, u.token, {});
  co_return field(r.json(), "next_batch", "initial sync for " + u.user_id);
}

awaitable<void> Bench::register_many(std::vector<User>& out, const std::string& prefix, int n,
                                     bool with_room) {
  out.resize(static_cast<size_t>(n));
  // Hashing dominates registration; a few in flight keep the server's cores busy.
  co_await for_each_limited(out.size(), 8, [&](size_t i) -> awaitable<void> {
    std::string name = "bench" + run_tag_ + "_" + prefix + std::to_string(i);
    out[i] = co_await register_user(name);
    if (with_room) {
      auto c = new_client();
      co_await c->connect();
      out[i].room_id = co_await create_room(*c, out[i]);
    }
  });
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// CPU used by this process, to tell whether the bench itself limited a figure: it shares the
// machine's cores with the server.
double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

awaitable<void> Bench::sequential_phase() {
  std::printf("\n== 1. Sequential sends: one client, one keep-alive connection\n");
  std::vector<User> users;
  co_await register_many(users, "seq", 1, true);
  const User& u = users[0];
  auto c = new_client();
  co_await c->connect();
  for (int i = 0; i < 20; ++i) co_await send_message(*c, u, u.room_id);  // warm-up, not timed

  auto threads0 = server_.thread_cpu();
  double cpu0 = server_.cpu_seconds();
  auto t0 = Clock::now();
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(opts_.sequential));
  for (int i = 0; i < opts_.sequential; ++i) {
    auto s = Clock::now();
    co_await send_message(*c, u, u.room_id);
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
  }
  double secs = seconds_since(t0);
  double cpu = server_.cpu_seconds() - cpu0;
  std::sort(lat.begin(), lat.end());
  std::printf("sequential: %d messages in %.3f s = %.0f messages/s\n", opts_.sequential, secs,
              opts_.sequential / secs);
  std::printf("sequential: server CPU %.3f ms/message (%.2f s CPU in all; target <= 0.1)\n",
              cpu * 1000 / opts_.sequential, cpu);
  std::printf("sequential: send round trip p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              percentile(lat, 0.5), percentile(lat, 0.99), lat.back());
  std::printf("sequential: server CPU by thread, busiest first: %s\n",
              ServerProc::busiest(threads0, server_.thread_cpu()).c_str());
  std::fflush(stdout);
}

awaitable<void> Bench::sender(Client* c, const User* u, int count, std::vector<double>* lat_ms) {
  for (int i = 0; i < count; ++i) {
    auto s = Clock::now();
    co_await send_message(*c, *u, u->room_id);
    lat_ms->push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
  }
}

awaitable<void> Bench::concurrent_phase() {
  std::printf("\n== 2. Concurrent durable sends: %d senders across %d rooms, %d messages each\n",
              opts_.senders, opts_.rooms, opts_.messages);
  std::fflush(stdout);
  std::vector<User> users;
  co_await register_many(users, "snd", opts_.rooms, true);

  std::vector<std::unique_ptr<Client>> conns;
  for (int i = 0; i < opts_.senders; ++i) conns.push_back(new_client());
  co_await for_each_limited(conns.size(), 256,
                            [&](size_t i) -> awaitable<void> { co_await conns[i]->connect(); });

  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(opts_.senders) * static_cast<size_t>(opts_.messages));
  std::vector<awaitable<void>> tasks;
  for (int i = 0; i < opts_.senders; ++i)
    tasks.push_back(sender(conns[static_cast<size_t>(i)].get(),
                           &users[static_cast<size_t>(i % opts_.rooms)], opts_.messages, &lat));
  auto threads0 = server_.thread_cpu();
  double cpu0 = server_.cpu_seconds();
  double self0 = self_cpu_seconds();
  auto t0 = Clock::now();
  co_await run_all(std::move(tasks));
  double secs = seconds_since(t0);
  double cpu = server_.cpu_seconds() - cpu0;
  double self = self_cpu_seconds() - self0;
  auto threads1 = server_.thread_cpu();
  for (auto& c : conns) c->close();

  size_t total = lat.size();
  std::sort(lat.begin(), lat.end());
  std::printf("concurrent: %zu messages in %.3f s = %.0f messages/s (target >= 20000)\n", total,
              secs, static_cast<double>(total) / secs);
  std::printf("concurrent: server CPU %.3f ms/message (%.2f s CPU in all, %.0f%% of one core)\n",
              cpu * 1000 / static_cast<double>(total), cpu, 100 * cpu / secs);
  std::printf("concurrent: send round trip p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              percentile(lat, 0.5), percentile(lat, 0.99), lat.back());
  std::printf("concurrent: server CPU by thread, busiest first: %s\n",
              ServerProc::busiest(threads0, threads1).c_str());
  std::printf("concurrent: the bench itself used %.2f s CPU (%.0f%% of one core) meanwhile\n",
              self, 100 * self / secs);
  std::fflush(stdout);
}

// One of the parked /syncs. It should stay parked for the whole run; if the server answers
// anyway, the reply is counted and the /sync parked again so the load stays the same.
awaitable<void> Bench::park(Client* c, std::string token, std::string since) {
  co_await c->connect();
  for (bool first = true;; first = false) {
    std::string target = "/_matrix/client/v3/sync?timeout=120000&since=" + url_encode(since);
    co_await c->write(bhttp::verb::get, target, token, {});
    auto sent = Clock::now();
    if (first) ++parked_written_;
    auto r = co_await c->try_read(300s);
    if (parked_closing_) co_return;
    if (!r) die("a parked /sync failed: " + c->error());
    parked_returned_at_.push_back(std::chrono::duration<double>(r->at - sent).count());
    if (parked_returned_at_.size() == 1)
      std::printf("WARNING: a parked /sync returned after %.3f s: %s\n",
                  parked_returned_at_.back(), r->body.substr(0, 300).c_str());
    since = field(r->json(), "next_batch", "parked /sync");
  }
}

// Whether a /sync reply carries event_id in room_id's timeline.
bool sync_has_event(const json::object& sync, const std::string& room_id,
                    const std::string& event_id) {
  auto* rooms = sync.if_contains("rooms");
  auto* join = rooms && rooms->is_object() ? rooms->as_object().if_contains("join") : nullptr;
  auto* room = join && join->is_object() ? join->as_object().if_contains(room_id) : nullptr;
  auto* tl = room && room->is_object() ? room->as_object().if_contains("timeline") : nullptr;
  auto* events = tl && tl->is_object() ? tl->as_object().if_contains("events") : nullptr;
  if (!events || !events->is_array()) return false;
  for (auto& e : events->as_array()) {
    auto* id = e.is_object() ? e.as_object().if_contains("event_id") : nullptr;
    if (id && id->is_string() && id->as_string() == event_id) return true;
  }
  return false;
}

awaitable<Clock::time_point> Bench::timed_send(Client& c, const User& u, std::string* event_id) {
  *event_id = co_await send_message(c, u, u.room_id);
  co_return Clock::now();
}

// Waits until the server has accepted every parked connection and stopped using CPU, i.e. it
// has read every parked request and is holding it. Returns the server's socket count.
awaitable<int> Bench::wait_until_settled(int want_sockets) {
  auto deadline = Clock::now() + 120s;
  for (;;) {
    double cpu0 = server_.cpu_seconds();
    co_await sleep_for(500ms);
    double used = server_.cpu_seconds() - cpu0;
    int sockets = server_.open_sockets();
    if (sockets >= want_sockets && used <= 0.02) co_return sockets;
    if (Clock::now() > deadline)
      die("parked /syncs did not settle within 120 s: server has " + std::to_string(sockets) +
          " sockets open (want " + std::to_string(want_sockets) + "), used " +
          std::to_string(used) + " s CPU in the last 0.5 s");
  }
}

awaitable<void> Bench::latency_phase() {
  std::printf("\n== 3. Delivery latency, send to the other user's /sync, with %d other /syncs "
              "parked (%d idle users)\n",
              opts_.parked, opts_.parked_users);
  std::fflush(stdout);
  std::vector<User> idle, probe;
  co_await register_many(idle, "idle", opts_.parked_users, true);
  co_await register_many(probe, "probe", 2, false);
  User& tx = probe[0];
  User& rx = probe[1];
  auto txc = new_client();
  auto rxc = new_client();
  co_await txc->connect();
  co_await rxc->connect();
  tx.room_id = co_await create_room(*txc, tx);
  const std::string join_target = "/_matrix/client/v3/join/" + url_encode(tx.room_id);
  const std::string empty_object = "{}";
  co_await rxc->call(bhttp::verb::post, join_target, rx.token, empty_object);
  std::vector<std::string> idle_since(idle.size());
  co_await for_each_limited(idle.size(), 8, [&](size_t i) -> awaitable<void> {
    auto c = new_client();
    co_await c->connect();
    idle_since[i] = co_await initial_sync_token(*c, idle[i]);
  });
  std::string rx_since = co_await initial_sync_token(*rxc, rx);

  rss_before_park_kb_ = server_.rss_kb();

  std::vector<std::unique_ptr<Client>> parked;
  for (int i = 0; i < opts_.parked; ++i) parked.push_back(new_client());
  auto t_park = Clock::now();
  for (size_t i = 0; i < parked.size(); ++i) {
    size_t u = i % idle.size();
    asio::co_spawn(io_, park(parked[i].get(), idle[u].token, idle_since[u]), asio::detached);
    // Connect in waves: a burst of thousands of SYNs overflows the listen backlog.
    if (i % 200 == 199) co_await sleep_for(5ms);
  }
  while (parked_written_ < opts_.parked) co_await sleep_for(10ms);
  // The listener, the two probe connections and the parked ones.
  int sockets = co_await wait_until_settled(opts_.parked + 3);
  double park_secs = seconds_since(t_park);
  co_await sleep_for(1s);  // a /sync about to return wrongly gets the chance to
  if (!parked_returned_at_.empty())
    die(std::to_string(parked_returned_at_.size()) + " parked /syncs returned before any " +
        "message was sent (they should wait 120 s or the server's cap)");
  double cpu0 = server_.cpu_seconds();
  co_await sleep_for(2s);
  double idle_cpu = (server_.cpu_seconds() - cpu0) / 2;
  rss_parked_kb_ = server_.rss_kb();
  std::printf("parked: %d /syncs parked in %.2f s, none returned; server holds %d sockets; "
              "server CPU while they wait %.1f%% of one core\n",
              opts_.parked, park_secs, sockets, idle_cpu * 100);
  std::fflush(stdout);

  std::vector<double> deliver, ack;
  int retries = 0;
  double cpu_probe0 = server_.cpu_seconds();
  for (int s = 0; s < opts_.samples; ++s) {
    std::string target = "/_matrix/client/v3/sync?timeout=30000&since=" + url_encode(rx_since);
    co_await rxc->write(bhttp::verb::get, target, rx.token, {});
    co_await sleep_for(10ms);  // lets the server park the probe's /sync before the send
    std::string event_id;
    auto t0 = Clock::now();
    auto [reply, acked] = co_await (rxc->read(60s) && timed_send(*txc, tx, &event_id));
    auto o = reply.json();
    rx_since = field(o, "next_batch", "probe /sync");
    // A /sync woken by something else returns without the message: sync again until it shows.
    while (!sync_has_event(o, tx.room_id, event_id)) {
      ++retries;
      target = "/_matrix/client/v3/sync?timeout=30000&since=" + url_encode(rx_since);
      reply = co_await rxc->call(bhttp::verb::get, target, rx.token, {});
      o = reply.json();
      rx_since = field(o, "next_batch", "probe /sync");
    }
    deliver.push_back(std::chrono::duration<double, std::milli>(reply.at - t0).count());
    ack.push_back(std::chrono::duration<double, std::milli>(acked - t0).count());
  }
  double probe_cpu = server_.cpu_seconds() - cpu_probe0;
  std::sort(deliver.begin(), deliver.end());
  std::sort(ack.begin(), ack.end());
  std::printf("latency: %d samples, send to /sync return p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms (target p99 < 5)\n",
              opts_.samples, percentile(deliver, 0.5), percentile(deliver, 0.99), deliver.back());
  std::printf("latency: send acknowledged (durable) p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              percentile(ack, 0.5), percentile(ack, 0.99), ack.back());
  std::printf("latency: server CPU %.3f ms per probe (send + /sync)%s\n",
              probe_cpu * 1000 / opts_.samples,
              retries ? (", " + std::to_string(retries) + " /syncs returned without the "
                         "message and were repeated").c_str()
                      : "");
  if (!parked_returned_at_.empty()) {
    std::printf("WARNING: %zu parked /syncs returned during the probes (first after %.3f s)\n",
                parked_returned_at_.size(), parked_returned_at_.front());
  } else {
    std::printf("parked: all %d /syncs still parked after the probes (%d sockets open)\n",
                opts_.parked, server_.open_sockets());
  }
  std::fflush(stdout);
  parked_closing_ = true;
  for (auto& c : parked) c->close();
}

awaitable<void> Bench::run() {
  std::printf("load_bench: server pid %d at %s; %d sequential; %d senders x %d messages in %d "
              "rooms; %d parked /syncs for %d users; %d latency samples\n",
              opts_.pid, host_header_.c_str(), opts_.sequential, opts_.senders, opts_.messages,
              opts_.rooms, opts_.parked, opts_.parked_users, opts_.samples);
  rss_idle_kb_ = server_.rss_kb();
  co_await sequential_phase();
  rss_sequential_kb_ = server_.rss_kb();
  co_await concurrent_phase();
  rss_concurrent_kb_ = server_.rss_kb();
  co_await latency_phase();
  auto mib = [](long kb) { return static_cast<double>(kb) / 1024; };
  std::printf("\n== 4. Server memory (VmRSS)\n");
  std::printf("memory: idle after start-up %.1f MiB (target < 30 MB)\n", mib(rss_idle_kb_));
  std::printf("memory: after the sequential sends %.1f MiB\n", mib(rss_sequential_kb_));
  std::printf("memory: after the concurrent sends %.1f MiB\n", mib(rss_concurrent_kb_));
  std::printf("memory: before parking (latency-phase users set up) %.1f MiB\n",
              mib(rss_before_park_kb_));
  double per_sync_kb =
      opts_.parked ? static_cast<double>(rss_parked_kb_ - rss_before_park_kb_) / opts_.parked : 0;
  std::printf("memory: with %d parked /syncs %.1f MiB (target < 100 MB), %.1f KiB per parked "
              "/sync\n",
              opts_.parked, mib(rss_parked_kb_), per_sync_kb);
  std::printf("memory: at the end %.1f MiB\n", mib(server_.rss_kb()));
  std::printf("\nload_bench: done; the bench itself used %.2f s CPU\n", self_cpu_seconds());
  std::fflush(stdout);
}

bool parse_int(const char* s, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (!s[0] || *end || v < 0 || v > 10'000'000) return false;
  *out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--quick") {
      o.sequential = 200;
      o.senders = 100;
      o.rooms = 10;
      o.messages = 10;
      o.parked = 1000;
      o.parked_users = 10;
      o.samples = 50;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "load_bench: %s needs a value\n%s", a.c_str(), kUsage);
      return 2;
    }
    const char* v = argv[++i];
    int* target = a == "--port"           ? &o.port
                  : a == "--pid"          ? &o.pid
                  : a == "--sequential"   ? &o.sequential
                  : a == "--senders"      ? &o.senders
                  : a == "--rooms"        ? &o.rooms
                  : a == "--messages"     ? &o.messages
                  : a == "--parked"       ? &o.parked
                  : a == "--parked-users" ? &o.parked_users
                  : a == "--samples"      ? &o.samples
                                          : nullptr;
    if (a == "--host") {
      o.host = v;
    } else if (!target || !parse_int(v, target)) {
      std::fprintf(stderr, "load_bench: bad option %s %s\n%s", a.c_str(), v, kUsage);
      return 2;
    }
  }
  if (o.port <= 0 || o.port > 65535 || o.pid <= 0) {
    std::fprintf(stderr, "load_bench: --port and --pid are required\n%s", kUsage);
    return 2;
  }
  if (o.rooms < 1 || o.senders < 1 || o.parked_users < 1 || o.sequential < 1 || o.messages < 1 ||
      o.samples < 1) {
    std::fprintf(stderr, "load_bench: sizes must be at least 1 (--parked may be 0)\n");
    return 2;
  }
  // Thousands of sockets: use all the descriptors the hard limit allows.
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  rlim_t need = static_cast<rlim_t>(std::max(o.parked + 16, o.senders) + 64);
  if (lim.rlim_cur < need) {
    std::fprintf(stderr, "load_bench: needs %llu file descriptors, the limit is %llu\n",
                 static_cast<unsigned long long>(need),
                 static_cast<unsigned long long>(lim.rlim_cur));
    return 2;
  }

  asio::io_context io(1);
  Bench bench(io, o);
  asio::co_spawn(io, bench.run(), [&io](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        die(std::string("unexpected exception: ") + ex.what());
      }
    }
    io.stop();  // parked reads and timers still pending must not hold the run open
  });
  io.run();
  return 0;
}
