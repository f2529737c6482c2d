package org.fslspark.runtime;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Supplier;

/**
 * What a site keeps in its executor's memory between rounds: a client's networks and optimizer
 * state, its loaded partition, the server's optimizers. Spark places each site's tasks on that
 * site's executors, so the next round's task finds them here. Keys start with the run id. The
 * driver holds a copy of the training state ({@link HeldState}), so a new run that resumes from it
 * rebuilds these entries from the plan instead.
 */
final class TaskState {
    private static final ConcurrentMap<String, Object> STATE = new ConcurrentHashMap<>();

    private TaskState() {
    }

    @SuppressWarnings("unchecked")
    static <T> T get(String key, Supplier<T> create) {
        return (T) STATE.computeIfAbsent(key, k -> create.get());
    }

    /**
     * Training state {@code name} of the plan's run: from this executor's memory, else made by
     * {@code create} and, when the plan carries a saved copy (the first round of a resumed run), restored from it.
     */
    static <T> T held(RoundPlan plan, String name, Supplier<T> create) {
        return get(plan.runId() + "/" + name, () -> HeldState.restored(name, create.get(), plan.restore()));
    }

    /** The encoded training state of the run's entries whose names start with {@code prefix}. */
    static Map<String, byte[]> save(String runId, String prefix) {
        Map<String, byte[]> out = new TreeMap<>();
        String key = runId + "/" + prefix;
        STATE.forEach((k, v) -> {
            if (k.startsWith(key)) {
                HeldState.save(k.substring(runId.length() + 1), v, out);
            }
        });
        return out;
    }

    /** Forgets everything a run left in this JVM. */
    static void clear(String runId) {
        STATE.keySet().removeIf(k -> k.startsWith(runId + "/"));
    }
}
