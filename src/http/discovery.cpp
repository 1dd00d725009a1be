#include "http/discovery.h"

#include "core/log.h"
#include "core/server_name.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include <vector>

namespace despatch::http {

namespace asio = boost::asio;

namespace {

// Unreachable well-known answers are remembered this long (the spec suggests up to an hour).
constexpr auto kFailureCache = std::chrono::minutes(10);
// SRV answers carry TTLs we do not read; an hour is what the spec suggests for errors.
constexpr auto kSrvCache = std::chrono::hours(1);

struct SrvRecord {
  uint16_t priority = 0, weight = 0, port = 0;
  std::string target;
};

// _matrix-fed._tcp.<hostname> through the system resolver (blocking). The lowest priority
// wins, then the highest weight; no weighted random choice among equals.
std::optional<SrvRecord> srv_lookup_blocking(const std::string& hostname) {
  struct __res_state state {};
  if (res_ninit(&state) != 0) return std::nullopt;
  std::vector<unsigned char> answer(4096);
  std::string name = "_matrix-fed._tcp." + hostname;
  int len = res_nquery(&state, name.c_str(), ns_c_in, ns_t_srv, answer.data(), static_cast<int>(answer.size()));
  std::optional<SrvRecord> best;
  ns_msg msg;
  if (len > 0 && ns_initparse(answer.data(), len, &msg) == 0) {
    int count = ns_msg_count(msg, ns_s_an);
    for (int i = 0; i < count; ++i) {
      ns_rr rr;
      if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7) continue;
      const unsigned char* rd = ns_rr_rdata(rr);
      SrvRecord r;
      r.priority = static_cast<uint16_t>(ns_get16(rd));
      r.weight = static_cast<uint16_t>(ns_get16(rd + 2));
      r.port = static_cast<uint16_t>(ns_get16(rd + 4));
      char target[NS_MAXDNAME];
      if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof target) < 0) continue;
      r.target = target;
      if (r.target.empty() || r.target == "." || r.port == 0) continue;  // "." means: no service
      if (!best || r.priority < best->priority || (r.priority == best->priority && r.weight > best->weight))
        best = r;
    }
  }
  res_nclose(&state);
  return best;
}

std::string with_port(const std::string& host, std::optional<uint16_t> port, bool ipv6) {
  std::string h = ipv6 ? "[" + host + "]" : host;
  return port ? h + ":" + std::to_string(*port) : h;
}

}  // namespace

std::optional<ResolvedServer> direct_target(const std::string& server_name) {
  auto p = parse_server_name(server_name);
  if (!p || !(p->ip_literal || p->port)) return std::nullopt;
  return ResolvedServer{p->host, p->port.value_or(kDefaultFederationPort), p->host, server_name};
}

std::optional<ResolvedServer> delegated_target(const std::string& delegated) {
  auto d = parse_server_name(delegated);
  if (!d || !(d->ip_literal || d->port)) return std::nullopt;
  bool ipv6 = d->host.find(':') != std::string::npos;
  return ResolvedServer{d->host, d->port.value_or(kDefaultFederationPort), d->host, with_port(d->host, d->port, ipv6)};
}

ResolvedServer default_target(const std::string& hostname) {
  return ResolvedServer{hostname, kDefaultFederationPort, hostname, hostname};
}

ServerResolver::~ServerResolver() { dns_.join(); }

asio::awaitable<std::optional<ResolvedServer>> ServerResolver::srv(const std::string& hostname) {
  // Named first: g++ 12 destroys a capturing lambda twice when it is a temporary in co_await.
  auto lookup = [hostname]() -> asio::awaitable<std::optional<SrvRecord>> { co_return srv_lookup_blocking(hostname); };
  auto found = co_await asio::co_spawn(dns_, lookup, asio::use_awaitable);
  if (!found) co_return std::nullopt;
  co_return ResolvedServer{found->target, found->port, hostname, hostname};
}

asio::awaitable<Result<ResolvedServer>> ServerResolver::resolve(const std::string& server_name) {
  auto parts = parse_server_name(server_name);
  if (!parts) co_return Error::invalid_param("not a server name: " + server_name);
  if (auto direct = direct_target(server_name)) co_return *direct;  // 1 and 2

  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(server_name);
    if (it != cache_.end() && it->second.expires > now) co_return it->second.server;
  }

  const std::string& hostname = parts->host;
  ResolvedServer out;
  auto expires = now + kFailureCache;
  std::optional<WellKnownAnswer> wk = co_await fetch_(hostname);
  std::optional<std::string> delegated = wk ? parse_well_known_server(wk->body) : std::nullopt;
  if (delegated) {
    expires = now + std::chrono::seconds(well_known_cache_seconds(wk->cache_control));
    if (auto target = delegated_target(*delegated)) {
      out = *target;  // 3.1 and 3.2
    } else if (auto s = co_await srv(*delegated)) {
      out = *s;  // 3.3: _matrix-fed._tcp.<delegated_hostname>
    } else {
      out = default_target(*delegated);  // 3.5
    }
  } else if (auto s = co_await srv(hostname)) {
    out = *s;  // 4: _matrix-fed._tcp.<hostname>
    expires = now + kSrvCache;
  } else {
    out = default_target(hostname);  // 6
  }
  DS_LOG(kDebug, "federation: {} resolves to {}:{} (certificate name {})", server_name, out.connect_host, out.port,
         out.tls_name);
  if (expires > now) {
    std::lock_guard lock(mu_);
    if (cache_.size() > 10000) cache_.clear();  // bounded: names come from other servers' events
    cache_[server_name] = {out, expires};
  }
  co_return out;
}

}  // namespace despatch::http
