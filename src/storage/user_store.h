// Accounts and their sessions: the users table (password hash, admin flag, profile,
// deactivation and erasure) and access_tokens (a token's hash -> its user and device).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct UserProfile {
  std::optional<std::string> displayname, avatar_url;
};

// users: user_id -> account.
struct UserAccount {
  std::string user_id;
  std::optional<std::string> password_hash;  // none once deactivated
  bool is_admin = false;
  bool deactivated = false;
  bool erased = false;  // deactivated with erasure: their events are served redacted
  bool locked = false;     // spec 1.18 account locking: every request but logout refused
  bool suspended = false;  // spec 1.18 suspension: reads allowed, new activity refused
  int64_t created_ts = 0;
  UserProfile profile;
};

// An access token's owner, with what authenticating a request needs of the account.
struct TokenOwner {
  std::string user_id, device_id;
  bool is_admin = false;
  bool deactivated = false;
  bool locked = false;
  bool suspended = false;
  int64_t expires_ts = 0;  // when the token stops working (ms); 0: never
};

// A page of accounts for the administrators' listings, in user ID order.
struct UserQuery {
  int64_t from = 0;    // offset
  int64_t limit = 100;
  std::string name;    // contained in the user ID or display name (plain text); "" for all
  bool include_deactivated = false;
  bool admins_only = false;
};
struct UserPage {
  std::vector<UserAccount> users;
  int64_t total = 0;  // matching accounts, all pages
};

// One user directory match.
struct UserMatch {
  std::string user_id;
  UserProfile profile;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // users
  // Adds an account (is_admin, password_hash, created_ts and profile from a; deactivated and
  // erased start false). The caller checks that the ID is free.
  virtual Status create(const UserAccount& a) = 0;
  // Whether any account (deactivated or not) has this ID.
  virtual Result<bool> exists(const std::string& user) = 0;
  virtual Result<std::optional<UserAccount>> account(const std::string& user) = 0;
  // The profile of a user who exists (deactivated or not), nullopt otherwise.
  virtual Result<std::optional<UserProfile>> profile(const std::string& user) = 0;
  // True for an account that exists and is not deactivated.
  virtual Result<bool> is_active(const std::string& user) = 0;
  virtual Result<bool> is_admin(const std::string& user) = 0;
  virtual Status set_password_hash(const std::string& user, const std::string& hash) = 0;
  // nullopt clears the field.
  virtual Status set_displayname(const std::string& user, const std::optional<std::string>& name) = 0;
  virtual Status set_avatar_url(const std::string& user, const std::optional<std::string>& url) = 0;
  // Marks the account deactivated and drops its password hash; erase also marks it erased
  // (an erased account never becomes unerased).
  virtual Status deactivate(const std::string& user, bool erase) = 0;
  virtual Result<std::vector<std::string>> erased_users() = 0;
  // Undoes deactivation (the account gets a password again through set_password_hash);
  // erasure stays.
  virtual Status reactivate(const std::string& user) = 0;
  virtual Status set_locked(const std::string& user, bool locked) = 0;
  virtual Status set_suspended(const std::string& user, bool suspended) = 0;
  virtual Status set_admin(const std::string& user, bool admin) = 0;
  virtual Result<UserPage> list(const UserQuery& q) = 0;
  // Accounts not deactivated whose user ID or display name contains term (ASCII letters
  // compared case-insensitively; term is plain text, no wildcards), user IDs after `after`
  // ("" from the start), in user ID order, at most limit.
  virtual Result<std::vector<UserMatch>> search(const std::string& term, const std::string& after,
                                                size_t limit) = 0;

  // access_tokens: token hash -> (user_id, device_id). The raw token is never stored.
  virtual Status add_token(const std::string& token_hash, const std::string& user, const std::string& device,
                           int64_t created_ts) = 0;
  // Gives a token an expiry (OAuth 2.0 access tokens are short-lived; others never expire).
  virtual Status set_token_expiry(const std::string& token_hash, int64_t expires_ts) = 0;
  // The token's owner, nullopt for an unknown token.
  virtual Result<std::optional<TokenOwner>> token_owner(const std::string& token_hash) = 0;
  // Ends every session of one device.
  virtual Status remove_tokens(const std::string& user, const std::string& device) = 0;
  // Whether some token still opens a session on the user's device.
  virtual Result<bool> has_token(const std::string& user, const std::string& device) = 0;
  // Ends every session of the user (devices stay).
  virtual Status remove_all_tokens(const std::string& user) = 0;

  // retired_tokens: token hash -> the deactivated account it belonged to, so that a
  // leaver's old token tried later is recognised (and refused like any unknown token).
  // Copies every current token of user there (before deactivation removes them).
  virtual Status retire_tokens(const std::string& user, int64_t ts) = 0;
  // The account a retired token belonged to, nullopt for any other token.
  virtual Result<std::optional<std::string>> retired_token_owner(const std::string& token_hash) = 0;
};

}  // namespace despatch::storage
