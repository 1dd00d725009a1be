// despatch serve: load config, open the data folder, listen, and run until SIGTERM.
#include <sys/resource.h>

#include "core/log.h"
#include "http/server.h"
#include "main/app.h"
#include "main/commands.h"

#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <pthread.h>
#include <thread>

namespace despatch {

namespace {

const char* kServeHelp = R"(Usage: despatch serve [options]

Runs the homeserver. With no options it serves http://127.0.0.1:8008 for server name
"localhost" from ./data, with no config file.

Options (each overrides the config file):
  --config FILE          TOML configuration (see `despatch config example`)
  --listen ADDR:PORT     address to listen on (default 127.0.0.1:8008)
  --data DIR             data folder (default ./data)
  --server-name NAME     server name in user and room IDs (default localhost)
  --open-registration    allow self-registration (m.login.dummy)
  --no-rate-limit        disable request rate limiting (benchmarks)
  --no-records-keeper    run without the records keeper ([records] keeper = false)
  --log-level LEVEL      debug, info, warn or error
  --metrics-listen ADDR:PORT  serve Prometheus metrics at /metrics here ([metrics] listen)

Federation ([federation] in the config file; the listener is TLS only):
  --federation-listen ADDR:PORT   serve the server-server API here (turns federation on)
  --federation-allow NAME         federate with this server name (repeatable; "*": anyone)
  --tls-cert FILE                 the federation listener's PEM certificate chain
  --tls-key FILE                  its PEM private key
)";

}  // namespace

// Applies serve's flags over cfg. Returns an error message, or "" when all is well.
static std::string apply_flags(Args& args, Config& cfg) {
  if (auto v = args.take("listen")) {
    auto colon = v->rfind(':');
    if (colon == std::string::npos) return "--listen wants ADDR:PORT";
    cfg.listen_address = v->substr(0, colon);
    if (cfg.listen_address.size() > 2 && cfg.listen_address.front() == '[')
      cfg.listen_address = cfg.listen_address.substr(1, cfg.listen_address.size() - 2);
    try {
      int port = std::stoi(v->substr(colon + 1));
      if (port < 0 || port > 65535) return "--listen port out of range";
      cfg.listen_port = static_cast<uint16_t>(port);
    } catch (...) {
      return "--listen wants ADDR:PORT";
    }
  }
  if (auto v = args.take("data")) cfg.data_dir = *v;
  if (auto v = args.take("server-name")) cfg.server_name = *v;
  if (auto v = args.take("log-level")) cfg.log_level = *v;
  if (args.take_switch("open-registration")) cfg.open_registration = true;
  if (args.take_switch("no-rate-limit")) cfg.rate_limit_enabled = false;
  if (args.take_switch("no-records-keeper")) cfg.records_keeper = false;
  if (auto v = args.take("federation-listen")) {
    cfg.federation.listen = *v;
    cfg.federation.enabled = true;
  }
  for (auto& name : args.take_all("federation-allow")) cfg.federation.allow.push_back(name);
  if (auto v = args.take("tls-cert")) cfg.federation.tls_cert_file = *v;
  if (auto v = args.take("tls-key")) cfg.federation.tls_key_file = *v;
  if (auto v = args.take("metrics-listen")) cfg.metrics.listen = *v;
  if (auto st = check_federation(cfg.federation); !st.ok()) return st.error().message;
  if (auto st = check_metrics(cfg.metrics); !st.ok()) return st.error().message;
  return "";
}

// Every connection is a file descriptor: a department's clients, parked /syncs and idle
// keep-alives outnumber the usual soft limit of 1024 long before the machine's hard limit.
void raise_open_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) DS_LOG(kWarn, "could not raise the open file limit");
}

int cmd_serve(Args& args) {
  if (args.help()) {
    std::fputs(kServeHelp, stdout);
    return 0;
  }
  Config cfg;
  if (!load_config_arg(args, &cfg)) return 2;
  if (auto err = apply_flags(args, cfg); !err.empty()) {
    std::fprintf(stderr, "despatch serve: %s\n", err.c_str());
    return 2;
  }
  if (!args.leftovers().empty() || !args.positionals().empty()) {
    std::fprintf(stderr, "despatch serve: unexpected argument %s\n",
                 args.leftovers().empty() ? args.positionals()[0].c_str() : args.leftovers()[0].c_str());
    return 2;
  }
  log::set_level(log::parse_level(cfg.log_level));
  raise_open_file_limit();

  auto app_r = App::create(cfg);
  if (!app_r.ok()) {
    DS_LOG(kError, "{}", app_r.error().message);
    return 1;
  }
  auto app = std::move(app_r).value();
  http::ServerOptions opts;
  opts.address = cfg.listen_address;
  opts.port = cfg.listen_port;
  opts.max_body_bytes = cfg.max_request_bytes;
  opts.rate_limit = cfg.rate_limit_enabled;
  opts.rate_per_second = cfg.rate_limit_per_second;
  opts.rate_burst = cfg.rate_limit_burst;
  opts.login_per_second = cfg.login_rate_per_second;
  opts.login_burst = cfg.login_rate_burst;
  if (!cfg.metrics.listen.empty()) opts.metrics = &app->request_metrics;
  App* a = app.get();
  // Declared after app and destroyed before it (see the end): both use app->io.
  auto server = std::make_unique<http::Server>(
      app->io, opts, app->routes(), [a](const std::string& token) -> Result<http::Caller> {
        DS_ASSIGN(Session s, a->users->authenticate(token));
        return http::Caller{s.user_id, s.device_id, token, s.is_admin, s.locked, s.suspended};
      });
  auto port = server->start();
  if (!port.ok()) {
    DS_LOG(kError, "{}", port.error().message);
    return 1;
  }

  // The federation listener: TLS, the server-server and key routes, X-Matrix checked by
  // the federation services.
  std::unique_ptr<http::Server> federation_server;
  std::optional<uint16_t> federation_port;
  if (cfg.federation.enabled) {
    http::ServerOptions fopts = opts;
    fopts.address = cfg.federation.listen_host();
    fopts.port = cfg.federation.listen_port();
    fopts.tls_cert_file = cfg.federation.tls_cert_file;
    fopts.tls_key_file = cfg.federation.tls_key_file;
    http::FederationAuthenticator check = [a](const http::Request& r) {
      auto it = r.headers.find("authorization");
      const std::string* header = it == r.headers.end() ? nullptr : &it->second;
      const json::value* content = r.body.empty() ? nullptr : &r.json;
      return a->federation_auth->authenticate(r.method, r.target, header, content, r.remote);
    };
    federation_server = std::make_unique<http::Server>(
        app->io, fopts, app->federation_routes(),
        [](const std::string&) -> Result<http::Caller> { return Error::forbidden("No access tokens here"); },
        std::move(check));
    auto fport = federation_server->start();
    if (!fport.ok()) {
      DS_LOG(kError, "federation: {}", fport.error().message);
      return 1;
    }
    federation_port = *fport;
    DS_LOG(kInfo, "federation: serving {} on https://{}:{} (allow: {})", cfg.server_name, fopts.address, *fport,
           cfg.federation.allow.empty() ? std::string("nobody") : [&] {
             std::string names;
             for (auto& n : cfg.federation.allow) names += (names.empty() ? "" : ", ") + n;
             return names;
           }());
  }

  // The metrics listener: plain HTTP, one unauthenticated route, its own requests uncounted.
  std::unique_ptr<http::Server> metrics_server;
  if (!cfg.metrics.listen.empty()) {
    http::ServerOptions mopts;
    mopts.address = cfg.metrics.host();
    mopts.port = cfg.metrics.port();
    mopts.rate_limit = false;
    metrics_server = std::make_unique<http::Server>(
        app->io, mopts, app->metrics_routes(),
        [](const std::string&) -> Result<http::Caller> { return Error::forbidden("No access tokens here"); });
    auto mport = metrics_server->start();
    if (!mport.ok()) {
      DS_LOG(kError, "metrics: {}", mport.error().message);
      return 1;
    }
    DS_LOG(kInfo, "metrics: serving Prometheus text on http://{}:{}/metrics", mopts.address, *mport);
  }

  auto signals = std::make_unique<boost::asio::signal_set>(app->io, SIGTERM, SIGINT);
  signals->async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    DS_LOG(kInfo, "signal {}: shutting down", sig);
    server->stop();
    if (federation_server) federation_server->stop();
    if (metrics_server) metrics_server->stop();
    app->io.stop();
  });
  DS_LOG(kInfo, "despatch ready: serving {} on http://{}:{} (data {})", cfg.server_name,
         cfg.listen_address, *port, cfg.data_dir);

  app->start_background();
  std::vector<std::thread> threads;
  for (int i = 1; i < cfg.io_threads; ++i)
    threads.emplace_back([a] {
      pthread_setname_np(pthread_self(), "ds-io");
      a->io.run();
    });
  pthread_setname_np(pthread_self(), "ds-io");
  app->io.run();
  for (auto& t : threads) t.join();
  signals.reset();
  federation_server.reset();
  metrics_server.reset();
  server.reset();
  if (auto st = app->checkpoint_archive(); !st.ok())
    DS_LOG(kError, "final archive checkpoint failed: {}", st.error().message);
  app.reset();  // drains the writer: every acknowledged write is already durable
  DS_LOG(kInfo, "stopped");
  return 0;
}

}  // namespace despatch
