package org.fslspark.runtime;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Supplier;

/**
 * What a site keeps in its executor's memory between rounds: a client's networks and optimizer
 * state, its loaded partition, the server's optimizers. Spark places each site's tasks on that
 * site's executors, so the next round's task finds them here. Keys start with the run id.
 */
final class TaskState {
    private static final ConcurrentMap<String, Object> STATE = new ConcurrentHashMap<>();

    private TaskState() {
    }

    @SuppressWarnings("unchecked")
    static <T> T get(String key, Supplier<T> create) {
        return (T) STATE.computeIfAbsent(key, k -> create.get());
    }

    /** Forgets everything a run left in this JVM. */
    static void clear(String runId) {
        STATE.keySet().removeIf(k -> k.startsWith(runId + "/"));
    }
}
