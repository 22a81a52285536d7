#include "executor_hook.h"

#include <stddef.h>

// The runtime's declarations (swift/Runtime/Concurrency.h, Swift 5.9 through 6.x): both
// function types use the Swift calling convention.
typedef void (__attribute__((swiftcall)) *enqueue_original)(void *job);
typedef void (__attribute__((swiftcall)) *enqueue_hook)(void *job, enqueue_original original);

// Defined by libswift_Concurrency (static or shared); resolved by the linker, not dlsym.
extern enqueue_hook swift_task_enqueueGlobal_hook;

static flotilla_job_sink installed_sink;

static void __attribute__((swiftcall)) forward_to_sink(void *job, enqueue_original original) {
    (void)original;
    installed_sink(job);
}

bool flotilla_install_global_enqueue_hook(flotilla_job_sink sink) {
    // The sink is published before the hook that reads it (release order on the exchange).
    __atomic_store_n(&installed_sink, sink, __ATOMIC_RELEASE);
    enqueue_hook expected = NULL;
    return __atomic_compare_exchange_n(&swift_task_enqueueGlobal_hook, &expected, forward_to_sink, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

bool flotilla_global_enqueue_hook_installed(void) {
    return __atomic_load_n(&swift_task_enqueueGlobal_hook, __ATOMIC_ACQUIRE) == forward_to_sink;
}
