#include "http/server.h"

#include "core/canonical_json.h"
#include "core/log.h"
#include "core/utf8.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <optional>

namespace despatch::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// The request line and the header fields may each be this long (Beast applies the limit to
// each in turn). Enough for a /sync with a large filter inline in its URL; beyond it the
// client gets 414 or 431 with a Matrix error, not a dropped connection.
constexpr uint32_t kHeaderLimit = 64 * 1024;

Reply error_reply(const Error& e) {
  json::object body = e.extra;
  body["errcode"] = e.errcode;
  // A message may quote what the client sent: it must still make a valid JSON body.
  body["error"] = to_valid_utf8(e.message);
  return Reply(e.status, std::move(body));
}

namespace {

// Path parameters and query strings reach handlers, storage and replies: they must be
// UTF-8 without control characters (no identifier, event type, tag or transaction ID grammar
// allows them). Nothing of the bad bytes is echoed back.
bool is_clean_text(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return is_valid_utf8(s);
}

}  // namespace

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The socket under a plain or TLS stream, for timeouts and shutdown.
beast::tcp_stream& tcp_of(beast::tcp_stream& s) { return s; }
beast::tcp_stream& tcp_of(TlsStream& s) { return s.next_layer(); }

struct Server::Impl {
  asio::io_context& io;
  ServerOptions opts;
  Router router;
  Authenticator auth;
  FederationAuthenticator federation_auth;
  RateLimiter normal_limiter, login_limiter;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;  // set by start() when the listener is TLS
  std::atomic<bool> stopping{false};

  Impl(asio::io_context& io_, ServerOptions o, Router r, Authenticator a, FederationAuthenticator f)
      : io(io_), opts(std::move(o)), router(std::move(r)), auth(std::move(a)), federation_auth(std::move(f)),
        normal_limiter(opts.rate_per_second, opts.rate_burst),
        login_limiter(opts.login_per_second, opts.login_burst), acceptor(io_) {}

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (stopping) co_return;
        DS_LOG(kWarn, "accept: {}", ec.message());
        // Out of file descriptors (a flood of idle connections): accept fails at once until
        // one closes, so wait a little instead of spinning on the error.
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
        continue;
      }
      sock.set_option(tcp::no_delay(true));
      // A strand per connection: the notifier relies on it to order wake-ups (see notifier.h).
      if (tls) asio::co_spawn(asio::make_strand(io), tls_session(std::move(sock)), asio::detached);
      else asio::co_spawn(asio::make_strand(io), plain_session(std::move(sock)), asio::detached);
    }
  }

  static void parse_query(std::string_view q, Request& r) {
    while (!q.empty()) {
      auto amp = q.find('&');
      auto part = q.substr(0, amp);
      auto eq = part.find('=');
      std::string k = percent_decode(part.substr(0, eq), true);
      std::string v = eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1), true);
      if (!k.empty()) r.query.emplace(std::move(k), std::move(v));
      if (amp == std::string_view::npos) break;
      q.remove_prefix(amp + 1);
    }
  }

  static std::string bearer_token(const Request& r) {
    auto it = r.headers.find("authorization");
    if (it != r.headers.end()) {
      std::string_view v = it->second;
      if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer "))
        return std::string(v.substr(7));
      return "";
    }
    if (auto* q = r.query_param("access_token")) return *q;
    return "";
  }

  // Runs the whole pipeline for one request; every failure becomes a Matrix error reply.
  asio::awaitable<Reply> handle(Request& r) {
    std::string_view target = r.target;
    auto qpos = target.find('?');
    std::string_view path = target.substr(0, qpos);
    if (qpos != std::string_view::npos) parse_query(target.substr(qpos + 1), r);

    if (r.method == "OPTIONS") co_return Reply(200, json::object{});
    auto m = router.match(r.method, path);
    if (!m.route) {
      if (m.path_known)
        co_return error_reply({405, errc::kUnrecognized, "Method not allowed for this endpoint", {}});
      co_return error_reply({404, errc::kUnrecognized, "Unrecognized request", {}});
    }
    const Route& route = *m.route;
    r.route_pattern = route.pattern;
    r.params = std::move(m.params);
    for (auto& p : r.params)
      if (!is_clean_text(p))
        co_return error_reply(Error::invalid_param("A path parameter is not valid UTF-8 text"));
    for (auto& [k, v] : r.query)
      if (!is_valid_utf8(k) || !is_valid_utf8(v))
        co_return error_reply(Error::invalid_param("A query parameter is not valid UTF-8"));

    if (route.auth != Auth::kNone && route.auth != Auth::kFederation) {
      std::string token = bearer_token(r);
      if (token.empty()) {
        if (route.auth != Auth::kOptional)
          co_return error_reply({401, errc::kMissingToken, "Missing access token", {}});
      } else {
        auto caller = auth(token);
        if (!caller.ok()) co_return error_reply(caller.error());
        if (caller->locked && route.auth != Auth::kRequiredEvenLocked) {
          Error locked{401, errc::kUserLocked, "This account has been locked", {}};
          locked.extra["soft_logout"] = true;
          co_return error_reply(locked);
        }
        if (route.auth == Auth::kAdmin && !caller->is_admin)
          co_return error_reply(Error::forbidden("This endpoint needs an administrator"));
        r.caller = std::move(caller).value();
      }
    }

    if (opts.rate_limit && route.rate != RateClass::kNone) {
      bool login = route.rate == RateClass::kLogin;
      std::string key = login || !r.caller ? "ip:" + r.remote : "u:" + r.caller->user_id;
      int64_t wait = (login ? login_limiter : normal_limiter).take(key);
      if (wait > 0) {
        Error e{429, errc::kLimitExceeded, "Too many requests", {}};
        e.extra["retry_after_ms"] = wait;
        Reply rep = error_reply(e);
        rep.headers.emplace_back("Retry-After", std::to_string((wait + 999) / 1000));
        co_return rep;
      }
    }

    if (route.body == Body::kJson) {
      if (r.body.empty()) {
        r.json = json::object{};
      } else {
        auto parsed = parse_strict_json(r.body);
        if (!parsed.ok()) co_return error_reply(Error::not_json("Request body is not valid JSON"));
        r.json = std::move(parsed).value();
        if (!r.json.is_object())
          co_return error_reply(Error::bad_json("Request body must be a JSON object"));
        // 1e400 parses as infinity, which no JSON can carry back out (a tag order stored as
        // Infinity broke /sync): refuse such numbers before anything is stored.
        if (auto st = check_json_numbers(r.json); !st.ok()) co_return error_reply(st.error());
      }
    }

    // After the body: the X-Matrix signature covers the parsed content.
    if (route.auth == Auth::kFederation) {
      if (!federation_auth) co_return error_reply({401, errc::kUnauthorized, "Federation is not enabled here", {}});
      auto origin = co_await federation_auth(r);
      if (!origin.ok()) co_return error_reply(origin.error());
      r.origin = std::move(origin).value();
    }

    try {
      auto res = co_await route.handler(r);
      if (!res.ok()) {
        const Error& e = res.error();
        if (e.status == 500) {
          // Internal details (database text, file paths) are logged, never sent.
          DS_LOG(kError, "{} {}: {}", r.method, to_valid_utf8(path), to_valid_utf8(e.message));
          co_return error_reply(Error::internal("Internal server error"));
        }
        if (e.status > 500) DS_LOG(kError, "{} {}: {}", r.method, to_valid_utf8(path), to_valid_utf8(e.message));
        co_return error_reply(e);
      }
      co_return std::move(res).value();
    } catch (const std::exception& ex) {
      // A handler bug must cost one request, never the server.
      DS_LOG(kError, "{} {}: unhandled exception: {}", r.method, to_valid_utf8(path), ex.what());
      co_return error_reply(Error::internal("Internal server error"));
    }
  }

  // One request as read off the connection. Reading and writing are coroutines of their
  // own, so that while a handler runs (a /sync parked for minutes) the connection holds only
  // this, not the parser's or the response's state.
  struct Incoming {
    Request request;
    unsigned version = 11;
    bool keep_alive = false;
    // Set when the request cannot be served (too large, malformed): answered with this,
    // then the connection is closed, since what follows on it cannot be trusted.
    std::optional<Error> refused;
  };

  // The answer to a request Beast could not read, or nullopt when nobody is there to read
  // one (the client closed, stopped mid-request or timed out; the socket failed).
  // start_line_read tells whether a header_limit error is about the fields or the target.
  static std::optional<Error> refusal_for(const boost::system::error_code& ec, bool start_line_read) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      std::string limit = std::to_string(kHeaderLimit);
      if (!start_line_read)
        return Error{414, errc::kTooLarge, "Request line too long (at most " + limit + " bytes)", {}};
      return Error{431, errc::kTooLarge, "Request header fields too large (at most " + limit + " bytes)", {}};
    }
    for (bhttp::error malformed :
         {bhttp::error::bad_line_ending, bhttp::error::bad_method, bhttp::error::bad_target,
          bhttp::error::bad_version, bhttp::error::bad_field, bhttp::error::bad_value,
          bhttp::error::bad_content_length, bhttp::error::multiple_content_length,
          bhttp::error::bad_transfer_encoding, bhttp::error::bad_chunk,
          bhttp::error::bad_chunk_extension, bhttp::error::bad_obs_fold})
      if (ec == malformed) return Error::unknown("Malformed HTTP request: " + ec.message());
    return std::nullopt;
  }

  // Reads the next request; nullopt when the connection is done (closed, timed out, broken).
  template <class Stream>
  asio::awaitable<std::optional<Incoming>> read_request(Stream& stream, beast::flat_buffer& buf) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    // No body limit while reading the header: Beast would fail the header on a large
    // Content-Length, and the client deserves a 413 rather than a dropped connection.
    parser.body_limit(boost::none);
    tcp_of(stream).expires_after(std::chrono::seconds(120));  // idle keep-alive connection
    auto [ec, n] = co_await bhttp::async_read_header(stream, buf, parser, kTuple);
    auto& hreq = parser.get();
    Incoming in;
    if (ec) {
      // The target is set only once the whole request line has been parsed.
      in.refused = refusal_for(ec, !hreq.target().empty());
      if (!in.refused) co_return std::nullopt;
      if (!hreq.target().empty()) in.version = hreq.version();
      co_return in;
    }
    in.version = hreq.version();
    in.keep_alive = hreq.keep_alive();
    // RFC 9112 6.3: with a Transfer-Encoding that does not end in chunked, the body's length
    // cannot be known (Beast would read none, and take the body for the next request).
    if (hreq.count(bhttp::field::transfer_encoding) && !parser.chunked()) {
      in.refused = Error::unknown("Malformed HTTP request: Transfer-Encoding must end with chunked");
      co_return in;
    }
    // Media uploads have their own, larger limit; every other route keeps the default.
    size_t limit = opts.max_body_bytes;
    {
      std::string_view target = hreq.target();
      auto m = router.match(hreq.method_string(), target.substr(0, target.find('?')));
      if (m.route && m.route->max_body > 0) limit = m.route->max_body;
    }
    bool too_large = parser.content_length() && *parser.content_length() > limit;
    if (!too_large && hreq[bhttp::field::expect] == "100-continue") {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, in.version};
      auto [wec, wn] = co_await bhttp::async_write(stream, cont, kTuple);
      if (wec) co_return std::nullopt;
    }
    if (!too_large) {
      parser.body_limit(limit);
      std::tie(ec, n) = co_await bhttp::async_read(stream, buf, parser, kTuple);
      if (ec == bhttp::error::body_limit) {
        too_large = true;
      } else if (ec) {
        in.refused = refusal_for(ec, true);
        if (!in.refused) co_return std::nullopt;
        co_return in;
      }
    }
    tcp_of(stream).expires_never();  // handlers such as long-poll /sync bound their own time
    if (too_large) {
      in.refused = Error{413, errc::kTooLarge,
                         "Request body too large (at most " + std::to_string(limit) + " bytes)", {}};
      co_return in;
    }
    Request& r = in.request;
    r.method = std::string(hreq.method_string());
    r.target = std::string(hreq.target());
    for (auto& f : hreq) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = std::move(hreq.body());
    co_return in;
  }

  // Writes the reply; false when the write failed.
  template <class Stream>
  asio::awaitable<bool> write_reply(Stream& stream, Reply reply, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), version};
    res.set(bhttp::field::server, "Despatch");
    res.set(bhttp::field::access_control_allow_origin, "*");
    res.set(bhttp::field::access_control_allow_methods, "GET, POST, PUT, DELETE, OPTIONS");
    res.set(bhttp::field::access_control_allow_headers, "X-Requested-With, Content-Type, Authorization");
    for (auto& [k, v] : reply.headers) res.set(k, v);
    if (reply.content_type.empty()) {
      res.set(bhttp::field::content_type, "application/json");
      res.body() = json::serialize(reply.body);
    } else {
      res.set(bhttp::field::content_type, reply.content_type);
      res.body() = std::move(reply.raw);
    }
    res.keep_alive(keep_alive);
    // Said outright even to HTTP/1.0 clients, for whom it is the default.
    if (!keep_alive) res.set(bhttp::field::connection, "close");
    res.prepare_payload();
    tcp_of(stream).expires_after(std::chrono::seconds(60));
    auto [wec, wn] = co_await bhttp::async_write(stream, res, kTuple);
    co_return !wec;
  }

  static std::string remote_of(tcp::socket& sock) {
    boost::system::error_code ec;
    auto ep = sock.remote_endpoint(ec);
    return ec ? std::string() : ep.address().to_string();
  }

  asio::awaitable<void> plain_session(tcp::socket sock) {
    std::string remote = remote_of(sock);
    beast::tcp_stream stream(std::move(sock));
    if (co_await serve(stream, remote)) co_await drain_unread(stream);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> tls_session(tcp::socket sock) {
    std::string remote = remote_of(sock);
    TlsStream stream(std::move(sock), *tls);
    stream.next_layer().expires_after(std::chrono::seconds(30));
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (hec) {
      DS_LOG(kDebug, "TLS handshake with {} failed: {}", remote, hec.message());
      co_return;
    }
    bool refused = co_await serve(stream, remote);
    // close_notify, then (after a refusal) what the peer still sends is read and dropped
    // until its own close_notify or the timeout, as drain_unread does for plain HTTP.
    stream.next_layer().expires_after(std::chrono::seconds(refused ? 5 : 2));
    (void)co_await stream.async_shutdown(kTuple);
    boost::system::error_code ignored;
    stream.next_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // Serves the requests of one connection until it ends. True when it ended by refusing a
  // request that was not read to its end (the caller drains the connection).
  template <class Stream>
  asio::awaitable<bool> serve(Stream& stream, const std::string& remote) {
    beast::flat_buffer buf;
    for (;;) {
      std::optional<Incoming> in = co_await read_request(stream, buf);
      if (!in) co_return false;
      if (in->refused) {
        if (!co_await write_reply(stream, error_reply(*in->refused), in->version, false)) co_return false;
        co_return true;
      }
      in->request.remote = remote;
      // Nothing pipelined behind this request: give the read buffer back while it runs.
      if (buf.size() == 0) buf.shrink_to_fit();
      auto started = std::chrono::steady_clock::now();
      Reply reply = co_await handle(in->request);
      if (opts.metrics) {
        std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
        opts.metrics->record(endpoint_class(in->request.route_pattern), reply.status, took.count());
      }
      bool keep_alive = in->keep_alive;
      unsigned version = in->version;
      in.reset();
      if (!co_await write_reply(stream, std::move(reply), version, keep_alive) || !keep_alive) co_return false;
    }
  }

  // After refusing a request we did not read to its end: closing a socket with unread data
  // resets the connection, and the client could lose the answer before reading it.
  // Half-close, then read and discard what the client still sends, within bounds of time
  // and size.
  static asio::awaitable<void> drain_unread(beast::tcp_stream& stream) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::vector<char> sink(64 * 1024);
    size_t total = 0;
    stream.expires_after(std::chrono::seconds(5));
    while (total < (256u << 20)) {
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      if (rec) break;
      total += n;
    }
  }
};

Server::Server(asio::io_context& io, ServerOptions opts, Router router, Authenticator auth,
               FederationAuthenticator federation_auth)
    : impl_(std::make_unique<Impl>(io, std::move(opts), std::move(router), std::move(auth),
                                   std::move(federation_auth))) {}
Server::~Server() = default;

Result<uint16_t> Server::start() {
  boost::system::error_code ec;
  if (!impl_->opts.tls_cert_file.empty() || !impl_->opts.tls_key_file.empty()) {
    auto& ctx = impl_->tls.emplace(asio::ssl::context::tls_server);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.use_certificate_chain_file(impl_->opts.tls_cert_file, ec);
    if (ec) return Error::internal("cannot load TLS certificate " + impl_->opts.tls_cert_file + ": " + ec.message());
    ctx.use_private_key_file(impl_->opts.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) return Error::internal("cannot load TLS key " + impl_->opts.tls_key_file + ": " + ec.message());
  }
  auto addr = asio::ip::make_address(impl_->opts.address, ec);
  if (ec) return Error::invalid_param("bad listen address: " + impl_->opts.address);
  tcp::endpoint ep(addr, impl_->opts.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error::internal("cannot listen on " + impl_->opts.address + ":" +
                                 std::to_string(impl_->opts.port) + ": " + ec.message());
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return a.local_endpoint().port();
}

void Server::stop() {
  impl_->stopping = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace despatch::http
