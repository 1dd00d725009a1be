#include "core/http_signature.h"

#include "core/base64.h"
#include "core/crypto.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <ctime>
#include <memory>

namespace despatch {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Error unauthorized(std::string m) { return Error::make(401, errc::kUnauthorized, std::move(m)); }

std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<Pkey> read_private(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Error::internal("cannot read the RSA private key");
  return key;
}

Result<Pkey> read_public(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) return unauthorized("the signer's publicKeyPem is not an RSA public key");
  return key;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// HTTP signatures and Digest use padded base64 (RFC 4648), unlike Matrix's unpadded form.
std::string padded_base64(std::string_view bytes) {
  std::string out = base64_encode(bytes);
  while (out.size() % 4) out += '=';
  return out;
}

std::string trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string_view::npos ? std::string() : std::string(s.substr(a, b - a + 1));
}

}  // namespace

Result<RsaKeyPair> RsaKeyPair::generate(int bits) {
  Pkey key(EVP_RSA_gen(static_cast<unsigned>(bits)));
  if (!key) return Error::internal("cannot generate an RSA key");
  Bio priv(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Error::internal("cannot write the RSA private key");
  return from_private_pem(bio_text(priv.get()));
}

Result<RsaKeyPair> RsaKeyPair::from_private_pem(const std::string& private_pem) {
  DS_ASSIGN(Pkey key, read_private(private_pem));
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) return Error::internal("the private key is not an RSA key");
  Bio pub(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) return Error::internal("cannot write the RSA public key");
  return RsaKeyPair{private_pem, bio_text(pub.get())};
}

Result<std::string> rsa_sha256_sign(const std::string& private_pem, std::string_view data) {
  DS_ASSIGN(Pkey key, read_private(private_pem));
  std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return Error::internal("cannot sign with the RSA key");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return Error::internal("cannot sign with the RSA key");
  sig.resize(len);
  return sig;
}

Result<bool> rsa_sha256_verify(const std::string& public_pem, std::string_view data, std::string_view signature) {
  DS_ASSIGN(Pkey key, read_public(public_pem));
  std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1)
    return Error::internal("cannot verify with the RSA key");
  int r = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                           reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return r == 1;
}

std::string digest_header(std::string_view body) { return "SHA-256=" + padded_base64(sha256(body)); }

Result<SignatureHeader> parse_signature_header(std::string_view value) {
  if (value.substr(0, 10) == "Signature ") value.remove_prefix(10);
  SignatureHeader out;
  bool have_headers = false;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == ' ' || value[i] == ',')) ++i;
    if (i >= value.size()) break;
    size_t eq = value.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= value.size() || value[eq + 1] != '"')
      return unauthorized("malformed Signature header");
    std::string name = lower(trim(value.substr(i, eq - i)));
    size_t end = value.find('"', eq + 2);
    if (end == std::string_view::npos) return unauthorized("malformed Signature header (unterminated value)");
    std::string v(value.substr(eq + 2, end - eq - 2));
    i = end + 1;
    if (name == "keyid") out.key_id = v;
    else if (name == "algorithm") out.algorithm = lower(v);
    else if (name == "headers") {
      have_headers = true;
      size_t p = 0;
      while (p < v.size()) {
        size_t sp = v.find(' ', p);
        if (sp == std::string::npos) sp = v.size();
        if (sp > p) out.headers.push_back(lower(v.substr(p, sp - p)));
        p = sp + 1;
      }
    } else if (name == "signature") {
      auto sig = base64_decode(v);
      if (!sig) return unauthorized("the Signature header's signature is not base64");
      out.signature = std::move(*sig);
    }
  }
  if (out.key_id.empty() || out.signature.empty()) return unauthorized("the Signature header lacks keyId or signature");
  if (!out.algorithm.empty() && out.algorithm != "rsa-sha256" && out.algorithm != "hs2019")
    return unauthorized("unsupported signature algorithm " + out.algorithm);
  if (!have_headers) out.headers = {"date"};
  return out;
}

Result<std::string> signing_string(const std::vector<std::string>& covered, std::string_view method,
                                   std::string_view target, const std::map<std::string, std::string>& headers) {
  std::string out;
  for (auto& name : covered) {
    if (!out.empty()) out += '\n';
    if (name == "(request-target)") {
      out += "(request-target): " + lower(method) + " " + std::string(target);
      continue;
    }
    auto it = headers.find(name);
    if (it == headers.end()) return unauthorized("the signature covers " + name + ", which the request lacks");
    out += name + ": " + trim(it->second);
  }
  return out;
}

Status sign_request(std::map<std::string, std::string>& headers, std::string_view method, std::string_view target,
                    std::string_view body, const std::string& key_id, const std::string& private_pem) {
  if (!headers.count("date")) headers["date"] = http_date(std::time(nullptr));
  std::vector<std::string> covered = {"(request-target)", "host", "date"};
  if (!body.empty() || lower(method) == "post") {
    headers["digest"] = digest_header(body);
    covered.push_back("digest");
    if (headers.count("content-type")) covered.push_back("content-type");
  }
  DS_ASSIGN(std::string text, signing_string(covered, method, target, headers));
  DS_ASSIGN(std::string sig, rsa_sha256_sign(private_pem, text));
  std::string list;
  for (auto& h : covered) list += (list.empty() ? "" : " ") + h;
  headers["signature"] = "keyId=\"" + key_id + "\",algorithm=\"rsa-sha256\",headers=\"" + list + "\",signature=\"" +
                         padded_base64(sig) + "\"";
  return ok_status();
}

Status verify_request(const SignatureHeader& sig, std::string_view method, std::string_view target,
                      const std::map<std::string, std::string>& headers, std::string_view body,
                      const std::string& public_pem, int64_t now_s, int64_t max_skew_s) {
  auto covers = [&sig](std::string_view h) {
    for (auto& c : sig.headers)
      if (c == h) return true;
    return false;
  };
  if (!covers("(request-target)") || !covers("host") || !covers("date"))
    return unauthorized("the signature must cover (request-target), host and date");
  auto date = headers.find("date");
  int64_t when = date == headers.end() ? -1 : parse_http_date(date->second);
  if (when < 0) return unauthorized("the request's Date header is missing or unreadable");
  if (when > now_s + max_skew_s || when < now_s - max_skew_s) return unauthorized("the request's Date is too far from now");
  auto digest = headers.find("digest");
  bool has_body = !body.empty() || lower(method) == "post";
  if (has_body) {
    if (!covers("digest") || digest == headers.end()) return unauthorized("a request with a body must sign its Digest");
    // Digest may list several algorithms; SHA-256 is the one we check and require.
    std::string want = digest_header(body);
    bool matched = false;
    std::string_view list = digest->second;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string item = trim(list.substr(0, comma));
      if (item.size() > 8 && lower(item.substr(0, 8)) == "sha-256=") matched = item.substr(8) == want.substr(8);
      if (matched || comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    if (!matched)
      return unauthorized("the Digest header (" + digest->second + ") does not match the body (" + want + ", " +
                          std::to_string(body.size()) + " bytes)");
  }
  DS_ASSIGN(std::string text, signing_string(sig.headers, method, target, headers));
  DS_ASSIGN(bool good, rsa_sha256_verify(public_pem, text, sig.signature));
  if (!good) return unauthorized("the HTTP signature does not verify");
  return ok_status();
}

std::string http_date(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

int64_t parse_http_date(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return -1;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace despatch
