package org.fslspark.runtime;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Supplier;

/**
 * What a site keeps in its executor's memory between rounds: a client's networks and optimizer
 * state, its loaded partition, the server's optimizers. Spark places each site's tasks on that
 * site's executors, so the next round's task finds them here. Keys start with the run id, and training
 * state is kept per generation ({@link RoundPlan#generation()}). The driver holds a copy of the training
 * state ({@link HeldState}), so a new run that resumes from it, or a rerun of a failed round (a new
 * generation), rebuilds these entries from the plan instead.
 */
final class TaskState {
    private static final ConcurrentMap<String, Object> STATE = new ConcurrentHashMap<>();
    /** The newest generation of each run's training state that a task of this JVM has used. */
    private static final Map<String, Long> GENERATIONS = new HashMap<>();

    private TaskState() {
    }

    @SuppressWarnings("unchecked")
    static <T> T get(String key, Supplier<T> create) {
        return (T) STATE.computeIfAbsent(key, k -> create.get());
    }

    /**
     * Training state {@code name} of the plan's run: from this executor's memory, else made by
     * {@code create} and, when the plan carries a saved copy (the first round of a resumed run, or a
     * rerun of a failed round), restored from it. Entries belong to the plan's generation: a rerun's
     * new generation starts from the plan's copy, never from what the failed attempt left.
     */
    static <T> T held(RoundPlan plan, String name, Supplier<T> create) {
        return get(generationKey(plan, name), () -> HeldState.restored(name, create.get(), plan.restore()));
    }

    /** A scratch entry of the plan's generation, made by {@code create} when absent (nothing restored). */
    static <T> T scratch(RoundPlan plan, String name, Supplier<T> create) {
        return get(generationKey(plan, name), create);
    }

    /**
     * The key of {@code name} in the plan's generation. The first task of a newer generation drops the
     * older ones' entries; a task of an older generation (a straggler of a failed attempt that Spark
     * did not stop) is refused, so it can change nothing the rerun uses.
     */
    private static String generationKey(RoundPlan plan, String name) {
        synchronized (GENERATIONS) {
            Long current = GENERATIONS.get(plan.runId());
            if (current != null && current > plan.generation()) {
                throw new IllegalStateException("round " + plan.round() + " attempt " + plan.attempt()
                        + " was superseded by a rerun of a failed round; this task stops");
            }
            if (current == null || current < plan.generation()) {
                if (current != null) {
                    String old = plan.runId() + "/g" + current + "/";
                    STATE.keySet().removeIf(k -> k.startsWith(old));
                }
                GENERATIONS.put(plan.runId(), plan.generation());
            }
        }
        return plan.runId() + "/g" + plan.generation() + "/" + name;
    }

    /** The encoded training state of the plan's entries whose names start with {@code prefix}. */
    static Map<String, byte[]> save(RoundPlan plan, String prefix) {
        Map<String, byte[]> out = new TreeMap<>();
        String generation = plan.runId() + "/g" + plan.generation() + "/";
        STATE.forEach((k, v) -> {
            if (k.startsWith(generation + prefix)) {
                HeldState.save(k.substring(generation.length()), v, out);
            }
        });
        return out;
    }

    /** Removes and returns the entries of the run whose names (after the run id) pass {@code names}. */
    static Map<String, Object> take(String runId, java.util.function.Predicate<String> names) {
        Map<String, Object> out = new TreeMap<>();
        String key = runId + "/";
        for (String k : STATE.keySet()) {
            if (k.startsWith(key) && names.test(k.substring(key.length()))) {
                Object v = STATE.remove(k);
                if (v != null) {
                    out.put(k.substring(runId.length() + 1), v);
                }
            }
        }
        return out;
    }

    /** Forgets everything a run left in this JVM. */
    static void clear(String runId) {
        STATE.keySet().removeIf(k -> k.startsWith(runId + "/"));
        synchronized (GENERATIONS) {
            GENERATIONS.remove(runId);
        }
    }
}
