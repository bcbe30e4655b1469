package import NIOCore

/// Runs a task's jobs on one NIO event loop instead of the shared cooperative pool.
///
/// A store that blocks its own thread while a PostgreSQL statement runs (as SQLite blocks on the
/// disk) must not need a cooperative thread to get the answer back: with two cores the pool has
/// two threads, and a few callers blocking them (a test waiting on a process, a synchronous
/// SQLite call) would leave the statement's continuation unscheduled while the store holds a
/// transaction open, until the server ends it as idle. The jobs here only await futures (they
/// never block), so sharing the loop with PostgresNIO's own I/O costs nothing.
package final class EventLoopTaskExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    package init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
