#include "http/federation_client.h"

#include "core/canonical_json.h"
#include "core/log.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/x509v3.h>

namespace despatch::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct Endpoint {
  std::string connect_host;
  uint16_t port = 0;
  std::string tls_name, host_header;
};

struct RawResponse {
  int status = 0;
  std::string body, cache_control, content_type;
};

// Per request limits; zero fields fall back to the client's options.
struct Limits {
  std::chrono::milliseconds timeout{0};
  size_t max_response_bytes = 0;
};

Error unreachable(const std::string& who, const std::string& why) {
  return Error::make(502, errc::kUnknown, "cannot reach " + who + ": " + why);
}

bool is_ip(const std::string& s) {
  boost::system::error_code ec;
  asio::ip::make_address(s, ec);
  return !ec;
}

}  // namespace

struct FederationClient::Impl {
  FederationClientOptions opts;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::unique_ptr<ServerResolver> resolver;

  // One request on a connection of its own, closed after the answer.
  asio::awaitable<Result<RawResponse>> fetch(const Endpoint& ep, bhttp::verb verb, const std::string& target,
                                             const std::string& authorization, const std::optional<std::string>& body,
                                             Limits limits = {}) {
    auto ex = co_await asio::this_coro::executor;
    std::string who = ep.host_header;
    tcp::resolver dns(ex);
    auto [rec, addresses] = co_await dns.async_resolve(ep.connect_host, std::to_string(ep.port), kTuple);
    if (rec) co_return unreachable(who, "cannot resolve " + ep.connect_host + ": " + rec.message());

    beast::ssl_stream<beast::tcp_stream> stream(ex, tls);
    SSL* ssl = stream.native_handle();
    bool ip = is_ip(ep.tls_name);
    if (!ip) SSL_set_tlsext_host_name(ssl, ep.tls_name.c_str());  // SNI takes host names only
    if (opts.verify_tls) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, ep.tls_name.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, ep.tls_name.c_str(), 0);
      if (set != 1) co_return unreachable(who, "cannot check certificates for " + ep.tls_name);
      stream.set_verify_mode(asio::ssl::verify_peer);
    } else {
      stream.set_verify_mode(asio::ssl::verify_none);
    }

    auto& tcp_layer = stream.next_layer();
    if (limits.timeout.count() > 0) tcp_layer.expires_after(limits.timeout);
    else tcp_layer.expires_after(opts.timeout);
    auto [cec, connected] = co_await tcp_layer.async_connect(addresses, kTuple);
    if (cec) co_return unreachable(who, "cannot connect to " + ep.connect_host + ":" + std::to_string(ep.port) + ": " + cec.message());
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple);
    if (hec) {
      long verify = SSL_get_verify_result(ssl);
      std::string why = verify != X509_V_OK ? std::string("certificate refused: ") + X509_verify_cert_error_string(verify)
                                            : "TLS handshake failed: " + hec.message();
      co_return unreachable(who, why);
    }

    bhttp::request<bhttp::string_body> req{verb, target, 11};
    req.set(bhttp::field::host, ep.host_header);
    req.set(bhttp::field::user_agent, "Despatch");
    req.set(bhttp::field::connection, "close");
    if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
    if (body) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = *body;
    }
    req.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, req, kTuple);
    if (wec) co_return unreachable(who, "writing the request: " + wec.message());

    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(limits.max_response_bytes > 0 ? limits.max_response_bytes : opts.max_response_bytes);
    auto [rdec, rn] = co_await bhttp::async_read(stream, buf, parser, kTuple);
    if (rdec == bhttp::error::body_limit)
      co_return Error::make(502, errc::kTooLarge, who + " answered with more than the size limit allows");
    if (rdec) co_return unreachable(who, "reading the answer: " + rdec.message());
    auto& res = parser.get();
    RawResponse out{static_cast<int>(res.result_int()), std::move(res.body()),
                    std::string(res[bhttp::field::cache_control]), std::string(res[bhttp::field::content_type])};
    boost::system::error_code ignored;
    tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return out;
  }
};

Result<std::unique_ptr<FederationClient>> FederationClient::create(FederationClientOptions opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = std::move(opts);
  auto& ctx = impl->tls;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (!impl->opts.ca_file.empty()) ctx.load_verify_file(impl->opts.ca_file, ec);
  else ctx.set_default_verify_paths(ec);
  if (ec) return Error::internal("cannot load CA certificates " + impl->opts.ca_file + ": " + ec.message());
  Impl* raw = impl.get();
  impl->resolver = std::make_unique<ServerResolver>(
      [raw](const std::string& hostname) -> asio::awaitable<std::optional<WellKnownAnswer>> {
        Endpoint ep{hostname, 443, hostname, hostname};
        const std::string target = "/.well-known/matrix/server";
        auto r = co_await raw->fetch(ep, bhttp::verb::get, target, "", std::nullopt);
        if (!r.ok() || r->status != 200) co_return std::nullopt;
        co_return WellKnownAnswer{std::move(r->body), std::move(r->cache_control)};
      });
  return std::unique_ptr<FederationClient>(new FederationClient(std::move(impl)));
}

FederationClient::FederationClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FederationClient::~FederationClient() = default;

asio::awaitable<Result<FederationResponse>> FederationClient::send(FederationRequest req) {
  // Before any lookup or connection: a server not on the allow-list learns nothing of us.
  if (!impl_->opts.allow.allows(req.destination))
    co_return Error::forbidden(req.destination + " is not on this server's federation allow-list");
  bhttp::verb verb = bhttp::string_to_verb(req.method);
  if (verb == bhttp::verb::unknown) co_return Error::internal("unknown HTTP method " + req.method);
  DS_CO_ASSIGN(ResolvedServer where, co_await impl_->resolver->resolve(req.destination));
  std::optional<std::string> body;
  if (req.body) body = json::serialize(*req.body);
  Endpoint ep{where.connect_host, where.port, where.tls_name, where.host_header};
  Limits limits{req.timeout, req.max_response_bytes};
  DS_CO_ASSIGN(RawResponse raw, co_await impl_->fetch(ep, verb, req.target, req.authorization, body, limits));
  FederationResponse out;
  out.status = raw.status;
  out.content_type = std::move(raw.content_type);
  if (!raw.body.empty()) {
    auto parsed = parse_strict_json(raw.body);
    if (parsed.ok()) out.body = std::move(parsed).value();
    // Media (multipart/mixed, or a file from a legacy route) may by chance parse as JSON.
    bool json_type = out.content_type.empty() || out.content_type.rfind("application/json", 0) == 0;
    if (!parsed.ok() || !json_type) out.raw = std::move(raw.body);
  }
  co_return out;
}

}  // namespace despatch::http
