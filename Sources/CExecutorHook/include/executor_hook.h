#ifndef FLOTILLA_EXECUTOR_HOOK_H
#define FLOTILLA_EXECUTOR_HOOK_H

#include <stdbool.h>

/// Sets the Swift concurrency runtime's global-enqueue hook (`swift_task_enqueueGlobal_hook`)
/// by a link-time reference rather than NIO's `dlsym` lookup, which finds nothing in a
/// `--static-swift-stdlib` binary (the static runtime's symbols are not in the dynamic
/// table). Once installed, every job the runtime would put on its default global executor
/// (the cooperative pool) is handed to `sink` instead, which must enqueue it somewhere that
/// runs it exactly once (Server's `GlobalExecutor`: NIO's singleton event loops).

/// Receives one job (a `swift::Job *`, i.e. the bits of an `UnownedJob`).
typedef void (*flotilla_job_sink)(void *_Nonnull job);

/// Installs `sink` as the global-enqueue hook if no hook is installed yet. Returns false
/// (and changes nothing) if one is. Call once, at start-up, before tasks matter.
bool flotilla_install_global_enqueue_hook(flotilla_job_sink _Nonnull sink);

/// Whether this process's hook is the one installed by `flotilla_install_global_enqueue_hook`.
bool flotilla_global_enqueue_hook_installed(void);

#endif
