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
    /** The version of each training-state entry ({@link #version}); scratch entries have none. */
    private static final ConcurrentMap<String, String> VERSIONS = new ConcurrentHashMap<>();
    private static final ConcurrentMap<String, Object> LOCKS = new ConcurrentHashMap<>();
    /** The newest generation of each run's training state that a task of this JVM has used. */
    private static final Map<String, Long> GENERATIONS = new HashMap<>();

    private TaskState() {
    }

    @SuppressWarnings("unchecked")
    static <T> T get(String key, Supplier<T> create) {
        return (T) STATE.computeIfAbsent(key, k -> create.get());
    }

    /**
     * Training state {@code name} of the plan's run: from this executor's memory when it holds the newest version,
     * else made by {@code create} and restored from the plan's saved copy (the first round of a resumed run, a rerun of
     * a failed round). Entries belong to the plan's generation: a rerun's new generation starts from the plan's copy,
     * never from what the failed attempt left.
     *
     * <p>Every use stamps the entry with a new version ({@link #version}); the driver learns the versions from the
     * reports ({@link #used}) and each plan says which version of every entry is the newest
     * ({@link RoundPlan#versions()}). A task that finds no entry, or an older version, where the newest lives on
     * another executor (its task moved, or its executor was replaced) and the plan carries no copy fails with
     * {@link HeldStateLostException}; the driver then reruns the round from its copy. Detected here rather than avoided by
     * shipping every entry with every round: the check costs nothing when tasks stay put, as they do under a
     * test-bed, and it covers every way an entry goes missing or stale (a moved task, a replaced executor, an aligner
     * and the server stage on two executors of the server site), where shipping would broadcast all held state, up to
     * tens of MB for FSL-SAGE, to every executor in every round.
     */
    static <T> T held(RoundPlan plan, String name, Supplier<T> create) {
        return held(plan, name, create, true);
    }

    /**
     * Entry {@code name} at its newest version, restored from the plan's copy if needed, for reading only: it keeps
     * its version. How the server site rebuilds entries used only rounds later, and how aligners read buffers.
     */
    static <T> T read(RoundPlan plan, String name, Supplier<T> create) {
        return held(plan, name, create, false);
    }

    @SuppressWarnings("unchecked")
    private static <T> T held(RoundPlan plan, String name, Supplier<T> create, boolean use) {
        FaultHook.forget(plan);
        String key = generationKey(plan, name);
        synchronized (LOCKS.computeIfAbsent(key, k -> new Object())) {
            String newest = plan.versions().get(name);
            Object value = STATE.get(key);
            String version = VERSIONS.get(key);
            // Newest: as the plan knows it, or as a task of this round made it here.
            if (value == null || newest != null && !newest.equals(version) && !version(plan).equals(version)) {
                if (newest != null && !newest.equals(FRESH) && !HeldState.covers(plan.restore(), name)) {
                    throw new HeldStateLostException(plan, name, value == null ? "holds none" : "holds an older version ("
                            + version + ")", newest);
                }
                value = HeldState.restored(plan, name, create.get());
                STATE.put(key, value);
                VERSIONS.put(key, newest == null ? version(plan) : newest);
            }
            if (use) {
                VERSIONS.put(key, version(plan));
            }
            return (T) value;
        }
    }

    /**
     * The version that says an entry's newest state is a freshly made one: what an executor holds was discarded by the
     * driver (a client dropped for a refused frame in the round that made the entry) and is made afresh.
     */
    static final String FRESH = "fresh";

    /** The version an entry gets when a task of the plan's round uses it on this executor. */
    static String version(RoundPlan plan) {
        return "round " + plan.round() + " on executor " + executorId();
    }

    private static String executorId() {
        org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
        return env == null ? "none" : env.executorId();
    }

    /** The entries of the plan's generation used on this executor in the plan's round, with their versions. */
    static Map<String, String> used(RoundPlan plan) {
        String generation = generation(plan);
        String v = version(plan);
        Map<String, String> out = new TreeMap<>();
        VERSIONS.forEach((k, version) -> {
            if (k.startsWith(generation) && version.equals(v)) {
                out.put(k.substring(generation.length()), version);
            }
        });
        return out;
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
                    drop(old);
                }
                GENERATIONS.put(plan.runId(), plan.generation());
            }
        }
        return generation(plan) + name;
    }

    /** The prefix of the keys of the plan's generation. */
    private static String generation(RoundPlan plan) {
        return plan.runId() + "/g" + plan.generation() + "/";
    }

    /**
     * The encoded training state of the plan's entries whose names start with {@code prefix}: those of the newest
     * version (used here this round, or as the plan knows them), never an older copy.
     */
    static Map<String, HeldState.Encoded> save(RoundPlan plan, String prefix) {
        Map<String, HeldState.Encoded> out = new TreeMap<>();
        String generation = generation(plan);
        String used = version(plan);
        STATE.forEach((k, v) -> {
            if (k.startsWith(generation + prefix)) {
                String name = k.substring(generation.length());
                String version = VERSIONS.get(k);
                if (version != null && (version.equals(used) || version.equals(plan.versions().get(name)))) {
                    HeldState.save(plan, name, v, out);
                }
            }
        });
        return out;
    }

    /** The encoded training state of entry {@code name} if this executor used it in the plan's round, else nothing. */
    static Map<String, HeldState.Encoded> saveUsed(RoundPlan plan, String name) {
        String key = generation(plan) + name;
        Object value = STATE.get(key);
        return value != null && version(plan).equals(VERSIONS.get(key)) ? HeldState.save(plan, name, value) : Map.of();
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
        drop(runId + "/");
        synchronized (GENERATIONS) {
            GENERATIONS.remove(runId);
        }
    }

    private static void drop(String prefix) {
        STATE.keySet().removeIf(k -> k.startsWith(prefix));
        VERSIONS.keySet().removeIf(k -> k.startsWith(prefix));
        LOCKS.keySet().removeIf(k -> k.startsWith(prefix));
    }

    /**
     * A task needs training state that its executor does not hold at its newest version, and the plan carries no
     * copy: the task ran elsewhere before, or its executor was replaced. The driver reruns the round from its copy.
     */
    static final class HeldStateLostException extends IllegalStateException {
        static final String MARKER = "does not hold the newest training state";

        HeldStateLostException(RoundPlan plan, String name, String found, String newest) {
            super("round " + plan.round() + ": " + HeldState.owner(plan, name) + ": executor " + executorId() + " " + MARKER + " '" + name
                    + "' (used in " + newest + "); it " + found
                    + ". The task moved to another executor or its executor was replaced; the driver reruns the round from "
                    + "its copy of the round's start (fault.round-attempts > 1). A test-bed topology pins each site's work "
                    + "to its executors.");
        }
    }
}
