#include "service/media/file_store.h"

#include "core/file.h"
#include "core/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>

namespace despatch::media {
namespace fs = std::filesystem;

namespace {

bool is_hex_hash(std::string_view h) {
  return h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

Status FileStore::init() const {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return Error::internal("media: cannot create " + root_ + ": " + ec.message());
  return ok_status();
}

std::string FileStore::path_of(std::string_view h) const {
  std::string p = root_;
  p += '/';
  p += h.substr(0, 2);
  p += '/';
  p += h.substr(2, 2);
  p += '/';
  p += h;
  return p;
}

bool FileStore::exists(std::string_view h) const {
  struct stat st {};
  return is_hex_hash(h) && ::stat(path_of(h).c_str(), &st) == 0;
}

Status FileStore::put(std::string_view h, std::string_view data) const {
  if (!is_hex_hash(h)) return Error::internal("media: bad hash");
  if (exists(h)) return ok_status();
  std::string path = path_of(h);
  std::string dir = path.substr(0, path.rfind('/'));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::internal("media: cannot create " + dir + ": " + ec.message());
  auto st = write_file_durable(path, data, 0640);
  if (!st.ok()) return Error::internal("media: " + st.error().message);
  return ok_status();
}

Result<std::string> FileStore::get(std::string_view h) const {
  if (!is_hex_hash(h)) return Error::not_found("Media not found");
  std::ifstream in(path_of(h), std::ios::binary);
  if (!in) return Error::internal("media: file " + std::string(h) + " is missing");
  std::string out;
  in.seekg(0, std::ios::end);
  out.resize(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  if (!in) return Error::internal("media: cannot read " + std::string(h));
  return out;
}

void FileStore::remove(std::string_view h) const {
  if (!is_hex_hash(h)) return;
  std::error_code ec;
  fs::remove(path_of(h), ec);
}

Status remove_if_unused(storage::Txn& t, const FileStore& files, const std::string& h) {
  DS_ASSIGN(bool used, t.media().file_in_use(h));
  if (!used) files.remove(h);
  return ok_status();
}

Result<int64_t> purge_media(storage::Txn& t, const FileStore& files, const std::string& local_server,
                            int64_t now, int64_t remote_cutoff_ts) {
  DS_ASSIGN(auto victims, t.media().expired(local_server, now, remote_cutoff_ts));
  std::vector<std::string> hashes;
  for (const auto& v : victims) {
    DS_ASSIGN(auto freed, t.media().remove(v.server_name, v.media_id));
    hashes.insert(hashes.end(), freed.begin(), freed.end());
  }
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  for (auto& h : hashes) DS_TRY(remove_if_unused(t, files, h));
  return static_cast<int64_t>(victims.size());
}

}  // namespace despatch::media
