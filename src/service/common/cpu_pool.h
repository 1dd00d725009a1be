// A small pool for CPU-heavy work (password hashing) so it never stalls the I/O threads.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>

namespace despatch {

class CpuPool {
 public:
  explicit CpuPool(int threads) : pool_(threads) {}
  ~CpuPool() { pool_.join(); }

  // Runs fn on the pool and resumes the caller on its own executor with the result.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F>> run(F fn) {
    namespace asio = boost::asio;
    auto home = co_await asio::this_coro::executor;
    co_await asio::post(pool_.get_executor(), asio::use_awaitable);
    std::optional<std::invoke_result_t<F>> out;
    out.emplace(fn());
    co_await asio::post(home, asio::use_awaitable);
    co_return std::move(*out);
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace despatch
