#if canImport(Glibc)
import CMalloc
#endif
import ChatCore
import Dispatch

/// Gives memory back to the system once a load has passed. glibc keeps what a burst freed in
/// its arenas (the peak of thousands of streams stays resident for good); `malloc_trim`
/// returns the free pages. Checked every `interval`: when answers were running at the last
/// check and none runs now, the heap is trimmed once, on a thread of its own (a trim of a
/// large heap takes milliseconds and blocks). A steady load is never trimmed; there is
/// nothing to give back while it lasts.
enum MemoryReturn {
    static func start(registry: TurnRegistry, interval: Duration = .seconds(10)) -> Task<Void, Never> {
        Task {
            trim()  // what start-up (migrations, recovery) left behind
            var wasBusy = false
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                let busy = !registry.running.isEmpty
                if wasBusy, !busy { trim() }
                wasBusy = busy
            }
        }
    }

    private static let queue = DispatchQueue(label: "parley.memory-return")

    static func trim() {
        #if canImport(Glibc)
        queue.async { _ = malloc_trim(0) }
        #endif
    }
}
