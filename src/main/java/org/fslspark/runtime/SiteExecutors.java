package org.fslspark.runtime;

import org.apache.spark.SparkEnv;
import org.apache.spark.SparkExecutorInfo;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyException;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The live executors of each site of a test-bed, as they describe themselves, and the preferred
 * locations that pin a stage's partitions to a site's executors.
 *
 * <p>Found by probing: a small job whose tasks (two per slot, so that every executor gets one)
 * report their executor id, host, block manager port and FSL_SITE label; the topology then says
 * which site each belongs to. A run waits (bounded) until every site it needs has a live executor
 * and refuses to start otherwise, rather than run a site's work elsewhere. Before every round the
 * driver looks again ({@link #refresh}) and decides which institutes take part ({@link Participants}).
 */
final class SiteExecutors {
    /** No test-bed, or local mode: no preferences. */
    static final SiteExecutors NONE = new SiteExecutors(Map.of(), List.of());

    private static final long PROBE_TASK_MILLIS = 300;

    /** What an executor says about itself; {@code site} is filled in on the driver. */
    record Executor(String id, String host, int port, String label, String site) implements Serializable {
        /** A Spark preferred location that names this very executor. */
        String location() {
            return "executor_" + host + "_" + id;
        }

        @Override
        public String toString() {
            return host + " (executor " + id + ", " + (site == null ? "no site"
                    + (label == null ? ", no label" : ", label '" + label + "'") : "site " + site) + ")";
        }
    }

    private final Map<String, List<Executor>> bySite;
    private final List<Executor> all;

    private SiteExecutors(Map<String, List<Executor>> bySite, List<Executor> all) {
        this.bySite = bySite;
        this.all = all;
    }

    /**
     * Finds the executors of {@code sites}, waiting up to {@code waitSeconds} for each of them to
     * have one.
     *
     * @throws NoExecutorException naming the sites without an executor and the executors seen
     */
    static SiteExecutors discover(JavaSparkContext sc, Topology topology, Collection<String> sites, double waitSeconds) {
        long deadline = System.nanoTime() + (long) (waitSeconds * 1e9);
        Map<String, Executor> seen = new TreeMap<>();
        while (true) {
            int registered = executorCount(sc);
            probeInto(sc, topology, registered, seen);
            SiteExecutors found = of(seen.values(), live(sc));
            List<String> missing = sites.stream().filter(s -> found.locations(s).isEmpty()).distinct().toList();
            boolean allSeen = found.all.size() >= registered;
            if (missing.isEmpty() && allSeen) {
                return found;
            }
            if (System.nanoTime() > deadline) {
                if (missing.isEmpty()) {
                    return found;
                }
                throw new NoExecutorException("site" + (missing.size() > 1 ? "s " : " ") + missing.stream()
                        .map(s -> "'" + s + "'").collect(Collectors.joining(", ")) + (missing.size() > 1 ? " have" : " has")
                        + " no live executor after " + Math.round(waitSeconds) + " s (executors: "
                        + (found.all.isEmpty() ? "none" : found.all.stream().map(Executor::toString).collect(Collectors.joining(", ")))
                        + "; " + topology.source() + " recognises a site's executors by their FSL_SITE label or host). "
                        + "Refusing to start rather than run a site's work elsewhere: start the site's workers "
                        + "(jobs/testbed start) or leave it out of institutes.");
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for executors", e);
            }
        }
    }

    /** Adds what every registered executor says about itself, with its site, to {@code seen}. */
    private static void probeInto(JavaSparkContext sc, Topology topology, int registered, Map<String, Executor> seen) {
        if (registered == 0) {
            return;
        }
        for (Executor e : probe(sc, Math.max(2 * sc.defaultParallelism(), 2 * registered))) {
            String site;
            try {
                site = topology.siteOf(e.label(), e.host());
            } catch (TopologyException ex) {
                throw new Placement.PlacementException(ex.getMessage());
            }
            seen.put(e.id(), new Executor(e.id(), e.host(), e.port(), e.label(), site));
        }
    }

    /**
     * The executors live now, without waiting: those found before that are still registered, and those registered
     * since (a returning site's), probed for their site; never those whose ids are in {@code removed} (Spark lists an
     * executor for a while after it has reported its removal).
     */
    SiteExecutors refresh(JavaSparkContext sc, Topology topology, Set<String> removed) {
        if (this == NONE) {
            return this;
        }
        Map<String, Executor> seen = new TreeMap<>();
        all.forEach(e -> seen.put(e.id(), e));
        SiteExecutors now = of(seen.values(), live(sc), removed);
        int registered = executorCount(sc);
        if (registered > now.all.size()) {
            probeInto(sc, topology, registered, seen);
            now = of(seen.values(), live(sc), removed);
        }
        return now;
    }

    /**
     * Whether every executor registered now has been found. Spark lists an executor (its block manager) before the
     * scheduler offers it tasks, so a probe may miss one that has just registered.
     */
    boolean identifiesAll(JavaSparkContext sc) {
        return this == NONE || all.size() >= executorCount(sc);
    }

    /** Whether {@code site} has a live executor among those found (always, without a test-bed). */
    boolean has(String site) {
        return this == NONE || !locations(site).isEmpty();
    }

    /** The executors among {@code executors} whose block manager ({@code host:port}) is in {@code live}. */
    static SiteExecutors of(Collection<Executor> executors, Set<String> live) {
        return of(executors, live, Set.of());
    }

    /** The executors among {@code executors} whose block manager is in {@code live} and whose id is not in {@code removed}. */
    static SiteExecutors of(Collection<Executor> executors, Set<String> live, Set<String> removed) {
        Map<String, List<Executor>> bySite = new LinkedHashMap<>();
        List<Executor> all = new ArrayList<>();
        for (Executor e : executors) {
            if (live.contains(e.host() + ":" + e.port()) && !removed.contains(e.id())) {
                all.add(e);
                if (e.site() != null) {
                    bySite.computeIfAbsent(e.site(), s -> new ArrayList<>()).add(e);
                }
            }
        }
        return new SiteExecutors(bySite, all);
    }

    /** Block manager addresses of the registered executors (the driver's included). */
    private static Set<String> live(JavaSparkContext sc) {
        Set<String> out = new HashSet<>();
        for (SparkExecutorInfo i : sc.sc().statusTracker().getExecutorInfos()) {
            out.add(i.host() + ":" + i.port());
        }
        return out;
    }

    /** Registered executors, not counting the driver. */
    private static int executorCount(JavaSparkContext sc) {
        return Math.max(0, sc.sc().statusTracker().getExecutorInfos().length - 1);
    }

    private static List<Executor> probe(JavaSparkContext sc, int tasks) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < tasks; i++) {
            ids.add(i);
        }
        sc.setJobDescription("fsl-spark: which site is each executor at?");
        try {
            return sc.parallelize(ids, tasks).map(i -> {
                Thread.sleep(PROBE_TASK_MILLIS); // keeps its slot busy so the other tasks spread to every executor
                SparkEnv env = SparkEnv.get();
                return new Executor(env.executorId(), env.blockManager().blockManagerId().host(),
                        env.blockManager().blockManagerId().port(), Placement.label(), null);
            }).collect().stream().distinct().toList();
        } finally {
            sc.setJobDescription(null);
        }
    }

    /** Preferred locations naming the site's executors (empty if it has none or there is no test-bed). */
    List<String> locations(String site) {
        return bySite.getOrDefault(site, List.of()).stream().map(Executor::location).toList();
    }

    /** Every executor found, for reports. */
    List<Executor> executors() {
        return all;
    }

    /** Pins partition i of {@code rdd} to the executors of {@code siteOfPartition.get(i)}. */
    <T> JavaRDD<T> pin(JavaRDD<T> rdd, List<String> siteOfPartition) {
        if (this == NONE) {
            return rdd;
        }
        List<List<String>> locations = siteOfPartition.stream().map(this::locations).toList();
        return new SitePinnedRDD<>(rdd.rdd(), locations, rdd.classTag()).toJavaRDD();
    }

    /** The sites a run needs: each institute's and the server site. */
    static List<String> sitesOf(List<String> institutes, String serverSite) {
        Set<String> s = new LinkedHashSet<>(institutes);
        s.add(serverSite);
        return new ArrayList<>(s);
    }

    /** A site has no live executor, so the run cannot place its work. */
    static final class NoExecutorException extends IllegalStateException {
        NoExecutorException(String message) {
            super(message);
        }
    }
}
