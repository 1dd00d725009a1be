// The database: a writer thread that owns every write and commits in groups, and one
// reader connection per thread. Writes are closures run on the writer thread inside a shared
// transaction (each in its own savepoint); a write completes only after its group's commit
// is durable.
#pragma once

#include "storage/conn.h"
#include "storage/stores.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace despatch::storage {

class Database {
 public:
  // Opens the SQLite database in data_dir, runs pending migrations and starts the writer.
  static Result<std::unique_ptr<Database>> open_sqlite(const std::string& data_dir);
  ~Database();

  // This thread's read connection. Sees only committed data.
  Conn& reader();
  // This thread's read view of every store. Sees only committed data.
  Stores& read();

  // Runs fn on the writer thread with the stores of the open transaction; completes when
  // its group's commit is durable. An error from fn rolls back fn's own changes only.
  template <class T>
  boost::asio::awaitable<Result<T>> transact(std::function<Result<T>(Txn&)> fn);
  template <class T>
  Result<T> transact_blocking(std::function<Result<T>(Txn&)> fn);
  // The stores over a write job's connection, for jobs not yet moved to transact (they
  // still take the Conn).
  std::unique_ptr<Txn> txn_over(Conn& c);

  // Runs fn on the writer thread; completes when its group's commit is durable. An error
  // from fn rolls back fn's own changes only.
  template <class T>
  boost::asio::awaitable<Result<T>> write(std::function<Result<T>(Conn&)> fn);

  // The same, blocking the caller (start-up, command-line tools, tests).
  template <class T>
  Result<T> write_blocking(std::function<Result<T>(Conn&)> fn);

  // Stream positions order everything a client syncs (events, receipts, account data, ...).
  // next_stream_pos is for write closures only; committed_stream_pos is what readers may see.
  int64_t next_stream_pos() { return ++assigned_pos_; }
  int64_t committed_stream_pos() const { return committed_pos_.load(std::memory_order_acquire); }

  // Number of commits and writes so far (for benchmarks and metrics).
  int64_t commit_count() const { return commits_.load(); }

  // Called on the writer thread when a group commit fails, so caches that write closures
  // updated can be dropped. Register before the first write.
  void add_on_rollback(std::function<void()> fn) { on_rollback_.push_back(std::move(fn)); }

 private:
  struct Job {
    std::function<bool(Conn&)> run;            // true: keep its changes
    std::function<void(const Error*)> finish;  // after commit; the Error if the commit failed
  };
  Database() = default;
  void enqueue(Job job);
  void writer_loop();
  // Copies committed WAL pages into the database file on a thread of its own, so that no
  // commit waits for a checkpoint (SQLite would otherwise run one inside a commit now and
  // then, stalling every writer for hundreds of milliseconds), and keeps the WAL file
  // small: truncated when the writer is idle, started over when it grows large under load.
  void checkpoint_loop();
  // Runs PRAGMA wal_checkpoint(mode) on the checkpoint connection; false when it could not
  // finish (busy) or failed.
  bool checkpoint(std::string_view mode);
  // The same, with the writer held between two groups (lock is on mu_).
  bool checkpoint_holding_writer(std::unique_lock<std::mutex>& lock, std::string_view mode);
  uintmax_t wal_bytes() const;

  std::string path_;
  uint64_t serial_ = 0;
  std::unique_ptr<Conn> writer_conn_;
  std::unique_ptr<Conn> checkpoint_conn_;
  std::thread writer_;
  std::thread checkpointer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable cv_checkpoint_;
  std::deque<Job> queue_;
  bool stop_ = false;
  bool writer_busy_ = false;  // the writer is running a group (guarded by mu_)
  bool writer_hold_ = false;  // a checkpoint wants the writer to wait between groups
  int64_t assigned_pos_ = 0;  // writer thread only
  std::atomic<int64_t> committed_pos_{0};
  std::atomic<int64_t> commits_{0};
  std::vector<std::function<void()>> on_rollback_;
};

template <class T>
boost::asio::awaitable<Result<T>> Database::transact(std::function<Result<T>(Txn&)> fn) {
  return write<T>([this, fn = std::move(fn)](Conn& c) -> Result<T> { return fn(*txn_over(c)); });
}

template <class T>
Result<T> Database::transact_blocking(std::function<Result<T>(Txn&)> fn) {
  return write_blocking<T>([this, &fn](Conn& c) -> Result<T> { return fn(*txn_over(c)); });
}

// Deliberately not a coroutine: g++ 12 mishandles std::function parameters of coroutines
// (double destruction). async_initiate stores fn in the returned awaitable instead.
template <class T>
boost::asio::awaitable<Result<T>> Database::write(std::function<Result<T>(Conn&)> fn) {
  namespace asio = boost::asio;
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<T>)>(
      [this](auto handler, std::function<Result<T>(Conn&)> job) {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto state = std::make_shared<std::optional<Result<T>>>();
        enqueue(Job{[state, job = std::move(job)](Conn& c) {
                      state->emplace(Error::internal("write failed"));  // kept if job throws
                      state->emplace(job(c));
                      return (*state)->ok();
                    },
                    [state, h, ex](const Error* err) {
                      if (err) state->emplace(*err);
                      asio::post(ex, [h, state]() mutable { (*h)(std::move(**state)); });
                    }});
      },
      asio::use_awaitable, std::move(fn));
}

template <class T>
Result<T> Database::write_blocking(std::function<Result<T>(Conn&)> fn) {
  std::optional<Result<T>> out;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  enqueue(Job{[&](Conn& c) {
                out.emplace(Error::internal("write failed"));  // kept if fn throws
                out.emplace(fn(c));
                return out->ok();
              },
              [&](const Error* err) {
                std::lock_guard lock(m);
                if (err) out.emplace(*err);
                done = true;
                cv.notify_one();
              }});
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
  return std::move(*out);
}

}  // namespace despatch::storage
