// despatch records witness pull: the records office's copy of the chains' hashes, taken
// from a running server over its admin API and kept in an append-only file on the
// officer's machine; and the check of an archive against such files (records verify
// --witness FILE).
#include "core/file.h"
#include "http/web_client.h"
#include "main/records_cli.h"
#include "service/common/time.h"
#include "service/records/witness.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/detached.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace despatch {

namespace {

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "despatch records witness: %s\n", msg.c_str());
  return code;
}

std::optional<std::string> read_token(Args& args) {
  if (auto file = args.take("token-file")) {
    std::ifstream in(*file);
    std::string token;
    if (!in || !(in >> token) || token.empty()) return std::nullopt;
    return token;
  }
  if (const char* env = std::getenv("DESPATCH_ADMIN_TOKEN"); env && *env) return std::string(env);
  return std::nullopt;
}

// Appends text to path and syncs it: a pull is either all on disk or not there at all
// (a crash mid-write leaves a partial last line, which load_witness reports).
Status append_durable(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error::internal("cannot open " + path + " for appending");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Error::internal("cannot write " + path);
    }
    done += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Error::internal("cannot sync " + path);
  return ok_status();
}

}  // namespace

int records_witness(Args& args) {
  const auto& pos = args.positionals();
  if (pos.size() < 2 || pos[1] != "pull") return fail("usage: despatch records witness pull --server URL --out FILE", 2);
  auto server = args.take("server");
  auto out = args.take("out");
  if (!server || !out) return fail("witness pull needs --server URL and --out FILE", 2);
  auto token = read_token(args);
  if (!token) return fail("an administrator's access token is needed: --token-file FILE or DESPATCH_ADMIN_TOKEN", 2);
  http::WebClientOptions opts;
  if (auto ca = args.take("ca-file")) opts.ca_file = *ca;
  opts.max_response_bytes = 64 << 20;
  opts.timeout = std::chrono::seconds(120);
  int64_t limit = 10000;
  if (auto l = args.take("limit")) limit = std::max<int64_t>(1, std::atoll(l->c_str()));

  WitnessPull pull;
  if (std::filesystem::exists(*out)) {
    auto st = load_witness(*out);
    if (!st.ok()) return fail(st.error().message);
    pull.state = std::move(*st);
  }
  auto client = http::WebClient::create(opts);
  if (!client.ok()) return fail(client.error().message);
  std::string base = *server;
  while (!base.empty() && base.back() == '/') base.pop_back();

  boost::asio::io_context io;
  auto run = [&]() -> boost::asio::awaitable<Status> {
    for (int pages = 0; !pull.done; ++pages) {
      WebRequest req;
      req.url = base + "/_despatch/admin/v1/records/witness?archive_after=" +
                std::to_string(pull.state.count(pull.state.archive)) +
                "&audit_after=" + std::to_string(pull.state.count(pull.state.audit)) +
                "&keys_after=" + std::to_string(pull.state.count(pull.state.keys)) + "&limit=" + std::to_string(limit);
      req.headers["authorization"] = "Bearer " + *token;
      auto resp = co_await (*client)->send(req);
      if (!resp.ok()) co_return resp.error();
      if (resp->status != 200)
        co_return Error::forbidden("the server answered " + std::to_string(resp->status) + ": " + resp->body);
      boost::system::error_code ec;
      auto page = json::parse(resp->body, ec);
      if (ec || !page.is_object()) co_return Error::bad_json("the server's witness page is not JSON");
      DS_CO_TRY(witness_extend(pull, page.as_object(), now_ms()));
    }
    co_return ok_status();
  };
  Status st = ok_status();
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { st = co_await run(); }, boost::asio::detached);
  io.run();
  if (!st.ok()) {
    // Nothing of a pull that conflicts is kept: the file still says what was seen before.
    std::printf("witness pull REFUSED: %s\n", st.error().message.c_str());
    return 1;
  }
  if (!pull.pending.empty()) {
    auto w = append_durable(*out, pull.pending);
    if (!w.ok()) return fail(w.error().message);
  }
  const WitnessState& w = pull.state;
  if (w.last_head.seq == 0 && w.last_head.audit_seq == 0) {
    std::printf("the server has signed no heads yet; nothing witnessed\n");
    return 0;
  }
  std::printf("witnessed %s: record %lld, audit entry %lld, data key %lld, signed %s by %s\n", w.server_name.c_str(),
              static_cast<long long>(w.last_head.seq), static_cast<long long>(w.last_head.audit_seq),
              static_cast<long long>(w.last_head.keys_seq),
              utc_time(w.last_head.ts, "%Y-%m-%d %H:%M:%S UTC").c_str(), w.key_id.c_str());
  return 0;
}

int verify_witnesses(storage::Database& db, const std::vector<std::string>& files) {
  for (auto& f : files) {
    auto w = load_witness(f);
    if (!w.ok()) {
      std::fprintf(stderr, "despatch records: %s\n", w.error().message.c_str());
      return 2;
    }
    auto rep = verify_against_witness(db.read(), *w, f);
    if (!rep.ok()) {
      std::fprintf(stderr, "despatch records: %s\n", rep.error().message.c_str());
      return 1;
    }
    if (!rep->ok) {
      std::printf("archive FAILED verification against witness %s at record %lld: %s\n", f.c_str(),
                  static_cast<long long>(rep->first_bad_seq), rep->problem.c_str());
      return 1;
    }
    std::printf("witness %s agrees: %lld records, %lld audit entries and %lld data keys as it saw them\n", f.c_str(),
                static_cast<long long>(w->count(w->archive)), static_cast<long long>(w->count(w->audit)),
                static_cast<long long>(w->count(w->keys)));
  }
  return 0;
}

}  // namespace despatch
