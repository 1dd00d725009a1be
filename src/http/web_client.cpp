#include "http/web_client.h"

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

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Error unreachable(const std::string& url, const std::string& why) {
  return Error::make(502, errc::kUnknown, "cannot reach " + url + ": " + why);
}

bool is_ip(const std::string& s) {
  boost::system::error_code ec;
  asio::ip::make_address(s, ec);
  return !ec;
}

// Writes req and reads the answer on an open stream (TCP or TLS).
template <class Stream>
asio::awaitable<Result<WebResponse>> exchange(Stream& stream, const WebRequest& in, const WebUrl& u, size_t limit) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(in.method), u.target, 11};
  req.set(bhttp::field::host, u.host_header());
  req.set(bhttp::field::user_agent, "Despatch");
  req.set(bhttp::field::connection, "close");
  for (auto& [k, v] : in.headers)
    if (k != "host") req.set(k, v);
  req.body() = in.body;
  req.prepare_payload();
  auto [wec, wn] = co_await bhttp::async_write(stream, req, kTuple);
  if (wec) co_return unreachable(in.url, "writing the request: " + wec.message());
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(limit);
  auto [rec, rn] = co_await bhttp::async_read(stream, buf, parser, kTuple);
  if (rec == bhttp::error::body_limit) co_return Error::make(502, errc::kTooLarge, in.url + " answered with too much");
  if (rec) co_return unreachable(in.url, "reading the answer: " + rec.message());
  auto& res = parser.get();
  co_return WebResponse{static_cast<int>(res.result_int()), std::string(res[bhttp::field::content_type]),
                        std::move(res.body())};
}

}  // namespace

struct WebClient::Impl {
  WebClientOptions opts;
  asio::ssl::context tls{asio::ssl::context::tls_client};
};

Result<std::unique_ptr<WebClient>> WebClient::create(WebClientOptions opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = std::move(opts);
  SSL_CTX_set_min_proto_version(impl->tls.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (!impl->opts.ca_file.empty()) impl->tls.load_verify_file(impl->opts.ca_file, ec);
  else impl->tls.set_default_verify_paths(ec);
  if (ec) return Error::internal("cannot load CA certificates " + impl->opts.ca_file + ": " + ec.message());
  return std::unique_ptr<WebClient>(new WebClient(std::move(impl)));
}

WebClient::WebClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebClient::~WebClient() = default;

asio::awaitable<Result<WebResponse>> WebClient::send(WebRequest req) {
  DS_CO_ASSIGN(WebUrl u, parse_web_url(req.url));
  if (bhttp::string_to_verb(req.method) == bhttp::verb::unknown) co_return Error::internal("unknown method " + req.method);
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver dns(ex);
  auto [dec, addresses] = co_await dns.async_resolve(u.host, std::to_string(u.port), kTuple);
  if (dec) co_return unreachable(req.url, "cannot resolve " + u.host + ": " + dec.message());
  if (u.scheme == "http" && !impl_->opts.allow_http) {
    // Checked on the resolved addresses, so a name pointing at loopback counts as loopback
    // and nothing else goes out in the clear.
    for (auto& a : addresses)
      if (!a.endpoint().address().is_loopback())
        co_return Error::forbidden("plain http is allowed only to loopback addresses: " + req.url);
  }
  const auto& o = impl_->opts;
  if (u.scheme == "http") {
    beast::tcp_stream stream(ex);
    stream.expires_after(o.timeout);
    auto [cec, ep] = co_await stream.async_connect(addresses, kTuple);
    if (cec) co_return unreachable(req.url, "cannot connect: " + cec.message());
    auto r = co_await exchange(stream, req, u, o.max_response_bytes);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return r;
  }
  beast::ssl_stream<beast::tcp_stream> stream(ex, impl_->tls);
  SSL* ssl = stream.native_handle();
  bool ip = is_ip(u.host);
  if (!ip) SSL_set_tlsext_host_name(ssl, u.host.c_str());
  if (o.verify_tls) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, u.host.c_str())
                 : X509_VERIFY_PARAM_set1_host(param, u.host.c_str(), 0);
    if (set != 1) co_return unreachable(req.url, "cannot check certificates for " + u.host);
    stream.set_verify_mode(asio::ssl::verify_peer);
  } else {
    stream.set_verify_mode(asio::ssl::verify_none);
  }
  auto& tcp_layer = stream.next_layer();
  tcp_layer.expires_after(o.timeout);
  auto [cec, ep] = co_await tcp_layer.async_connect(addresses, kTuple);
  if (cec) co_return unreachable(req.url, "cannot connect: " + cec.message());
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hec) {
    long verify = SSL_get_verify_result(ssl);
    co_return unreachable(req.url, verify != X509_V_OK ? std::string("certificate refused: ") +
                                                              X509_verify_cert_error_string(verify)
                                                        : "TLS handshake failed: " + hec.message());
  }
  auto r = co_await exchange(stream, req, u, o.max_response_bytes);
  boost::system::error_code ignored;
  tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return r;
}

}  // namespace despatch::http
