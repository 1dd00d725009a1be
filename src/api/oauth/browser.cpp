#include "api/oauth/browser.h"

namespace despatch::api {

namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

void no_store(http::Reply& r) {
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

}  // namespace

http::Reply browser_redirect(const std::string& location) {
  http::Reply r;
  r.status = 302;
  r.content_type = "text/html; charset=utf-8";
  r.raw = "<!doctype html><title>Signing in</title><a href=\"" + html_escape(location) + "\">Continue</a>";
  r.headers.emplace_back("Location", location);
  no_store(r);
  return r;
}

http::Reply browser_error_page(const Error& e) {
  http::Reply r;
  r.status = e.status >= 400 && e.status < 600 ? e.status : 400;
  r.content_type = "text/html; charset=utf-8";
  r.raw = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>"
          "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>Sign-in failed</h1>"
          "<p id=\"error\">" + html_escape(e.message) + "</p><p><small>" + html_escape(e.errcode) +
          "</small></p></body></html>";
  no_store(r);
  return r;
}

http::Reply browser_confirm_page(const std::string& host, const std::string& user_id,
                                 const std::string& continue_url) {
  http::Reply r;
  r.content_type = "text/html; charset=utf-8";
  r.raw = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Continue to " + html_escape(host) +
          "?</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">"
          "<h1>Continue to " + html_escape(host) + "?</h1><p>You signed in as " + html_escape(user_id) +
          ". Continue only if you asked " + html_escape(host) +
          " to sign you in: it will get access to your account.</p>"
          "<p><a href=\"" + html_escape(continue_url) + "\">Continue to " + html_escape(host) + "</a></p></body></html>";
  no_store(r);
  return r;
}

http::Reply browser_auth_done_page() {
  http::Reply r;
  r.content_type = "text/html; charset=utf-8";
  r.raw = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authentication complete</title>"
          "<script>if (window.onAuthDone) window.onAuthDone();"
          " else if (window.opener && window.opener.postMessage) window.opener.postMessage(\"authDone\", \"*\");"
          "</script></head><body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">"
          "<h1>Authentication complete</h1><p>You may close this window and return to your client.</p></body></html>";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
  return r;
}

}  // namespace despatch::api
