package org.fslspark.runtime;

import org.apache.spark.api.java.JavaSparkContext;
import org.fslspark.config.Experiment;
import org.fslspark.metrics.EventRecord;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Which institutes take part in a round (fault.min-institutes, fault.site-timeout). On a test-bed cluster, an institute
 * whose site has had no live executor for longer than the timeout sits rounds out while at least min-institutes remain,
 * and rejoins at the first round that finds its site's executors back. Without placement by site (local mode) every
 * institute takes part in every round. The algorithms never see this: a round's plan names its participants.
 */
final class Participants {
    /**
     * A round's participants (client ids, in order), those among them that sat out the previous round, the events to
     * record, and the executors found.
     */
    record Round(List<Integer> clients, List<Integer> rejoined, List<EventRecord> events, SiteExecutors executors) {
    }

    private final Experiment e;
    private final JavaSparkContext sc;
    /** When each institute's site was first seen without an executor (System.nanoTime). */
    private final Map<String, Long> missingSince = new HashMap<>();
    /** The institutes sitting rounds out. */
    private final TreeSet<Integer> lost = new TreeSet<>();

    Participants(Experiment e, JavaSparkContext sc) {
        this.e = e;
        this.sc = sc;
    }

    /**
     * Round {@code t}'s participants: every institute whose site has an executor, once each missing one is either
     * lost already or has been missing for fault.site-timeout. Waits (polling every second) for that, up to
     * testbed.executor-wait for the server site and for at least fault.min-institutes institutes, and as long for
     * every registered executor to be identified. Executors Spark has reported removed ({@code removed}, by id) are not
     * live, whatever Spark's executor list still says.
     *
     * @throws SiteExecutors.NoExecutorException naming the missing sites and the key, when the wait runs out
     */
    Round next(int t, SiteExecutors executors, java.util.Set<String> removed) {
        List<Integer> everyone = new ArrayList<>();
        for (int i = 0; i < e.institutes().size(); i++) {
            everyone.add(i);
        }
        if (executors == SiteExecutors.NONE) {
            return absent(t, everyone, executors);
        }
        Experiment.Faults f = e.fault();
        long start = System.nanoTime();
        while (true) {
            executors = executors.refresh(sc, e.testbed().topology(), removed);
            long now = System.nanoTime();
            List<Integer> present = new ArrayList<>();
            List<Integer> missing = new ArrayList<>();
            for (int i : everyone) {
                String site = e.institutes().get(i);
                if (executors.has(site)) {
                    present.add(i);
                    missingSince.remove(site);
                } else {
                    missing.add(i);
                    missingSince.putIfAbsent(site, now);
                }
            }
            boolean serverUp = executors.has(e.serverSite());
            boolean settled = missing.stream().allMatch(i -> lost.contains(i)
                    || now - missingSince.get(e.institutes().get(i)) >= f.siteTimeoutSeconds() * 1e9);
            boolean waited = now - start > e.testbed().executorWaitSeconds() * 1e9;
            // An executor that has registered but not yet taken its first task (a returning site's, under load) is
            // waited for, so that its site takes part in this round rather than the next.
            if (serverUp && settled && present.size() >= f.minInstitutes() && (executors.identifiesAll(sc) || waited)) {
                return decide(t, present, missing, executors, now);
            }
            if (waited) {
                throw new SiteExecutors.NoExecutorException("round " + t + ": " + (!serverUp ? "the server site '"
                        + e.serverSite() + "' has" : "only " + present.size() + " institute(s) "
                        + sites(present) + " have") + " a live executor after " + Math.round(e.testbed().executorWaitSeconds())
                        + " s (testbed.executor-wait), fault.min-institutes = " + f.minInstitutes() + "; no executor at "
                        + sites(missing) + " (executors: " + executors.executors() + "). Start the sites' workers "
                        + "(jobs/testbed start-site SITE) or lower fault.min-institutes.");
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the sites' executors", ex);
            }
        }
    }

    /** The round's participants with the events of institutes that leave or come back. */
    private Round decide(int t, List<Integer> present, List<Integer> missing, SiteExecutors executors, long now) {
        List<EventRecord> events = new ArrayList<>();
        List<Integer> rejoined = new ArrayList<>();
        for (int i : present) {
            if (lost.remove(i)) {
                rejoined.add(i);
                events.add(new EventRecord(t, e.institutes().get(i), "rejoined", "site " + e.institutes().get(i)
                        + " has a live executor again; its client takes part from this round, from the current global model"));
            }
        }
        for (int i : missing) {
            if (lost.add(i)) {
                String site = e.institutes().get(i);
                events.add(new EventRecord(t, site, "lost", String.format(java.util.Locale.ROOT,
                        "site %s has had no live executor for %.0f s (fault.site-timeout = %.0f s); rounds go on with %d "
                                + "institutes (fault.min-institutes = %d)", site, (now - missingSince.get(site)) / 1e9,
                        e.fault().siteTimeoutSeconds(), present.size(), e.fault().minInstitutes())));
            }
        }
        return new Round(List.copyOf(present), rejoined, events, executors);
    }

    /**
     * Local mode: everyone, but for the test-only debug.absent, whose client sits its round out as an institute whose
     * site is lost for that round would, and rejoins at the next.
     */
    private Round absent(int t, List<Integer> everyone, SiteExecutors executors) {
        Experiment.FaultPoint f = e.fault().absent();
        List<Integer> present = new ArrayList<>(everyone);
        List<Integer> rejoined = new ArrayList<>();
        List<EventRecord> events = new ArrayList<>();
        if (f != null && f.round() == t && present.remove(Integer.valueOf(f.client()))) {
            lost.add(f.client());
            events.add(new EventRecord(t, e.institutes().get(f.client()), "lost", "debug.absent: sits round " + t + " out"));
        } else if (f != null && f.round() == t - 1 && lost.remove(f.client())) {
            rejoined.add(f.client());
            events.add(new EventRecord(t, e.institutes().get(f.client()), "rejoined", "debug.absent: back after round " + f.round()));
        }
        return new Round(List.copyOf(present), rejoined, events, executors);
    }

    private String sites(List<Integer> clients) {
        return clients.stream().map(i -> "'" + e.institutes().get(i) + "'").collect(Collectors.joining(", ", "(", ")"));
    }
}
