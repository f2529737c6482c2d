package org.fslspark.cli;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code fsl plan-cuts} on the AI-EDGE test-bed (conf/testbeds/aiedge.conf) with the quickstart (SplitFed-V2,
 * fmnist_cnn, batch 64, one local epoch, float32), 6,000 samples a site, 60 GFLOP/s: every printed time is what the
 * time model's rule for parallel per-batch clients gives, computed here from the link figures, the frame format and
 * fmnist_cnn's layers; each site's best cut is the argmin (the shallowest of equals), never slower than the uniform
 * cut; iitb, behind the 240 ms / 100 Mbit/s link, gets activations no larger than the uniform cut's.
 */
class PlanCutsCommandTest {
    /** fmnist_cnn after each cut 1..9: values per sample, rank of [b, ...] at the cut, client parameters. */
    static final long[] ACTIVATIONS = {25088, 25088, 6272, 12544, 12544, 3136, 3136, 128, 128};
    static final int[] RANK = {4, 4, 4, 4, 4, 4, 2, 2, 2};
    static final long[] CLIENT_PARAMS = {320, 320, 320, 18816, 18816, 18816, 18816, 420352, 420352};
    /** Forward multiply-adds per sample of the whole model: conv1 28·28·32·9, conv2 14·14·64·288, dense 3136·128 and 128·10. */
    static final long MACS = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 288 + 3136 * 128 + 128 * 10;
    /** Of the server part from each cut on: the dense layers from cut 7, dense2 alone from 8, and the convolutions above. */
    static final long[] SERVER_MACS = {MACS - 28 * 28 * 32 * 9, MACS - 28 * 28 * 32 * 9, MACS - 28 * 28 * 32 * 9,
            3136 * 128 + 1280, 3136 * 128 + 1280, 3136 * 128 + 1280, 3136 * 128 + 1280, 1280, 1280};
    static final Map<String, double[]> LINKS = Map.of("osu", new double[]{0.2e-3, 10_000e6}, "utaustin", new double[]{35e-3, 1000e6},
            "umich", new double[]{10e-3, 1000e6}, "iitb", new double[]{240e-3, 100e6});
    static final long SAMPLES = 6000;
    static final int BATCH = 64;
    static final double FLOPS = 60e9;

    /** Wire bytes of a message: 18, and per tensor 3 + 4 × rank and 4 bytes a value (float32, int32). */
    static long message(long[]... tensors) {
        long n = 18;
        for (long[] t : tensors) {
            n += 3 + 4L * t[0] + 4 * t[1];
        }
        return n;
    }

    /** The site's modelled round at cut c (1..9): (K + 1.5) RTT + wire bytes / throughput + all compute (speeds are 1). */
    static double seconds(String site, int c) {
        long batches = (SAMPLES + BATCH - 1) / BATCH;
        long wire = message() + 2 * message(new long[]{2, CLIENT_PARAMS[c - 1]});
        for (long start = 0; start < SAMPLES; start += BATCH) {
            long s = Math.min(BATCH, SAMPLES - start);
            long[] cut = {RANK[c - 1], s * ACTIVATIONS[c - 1]};
            wire += message(cut, new long[]{1, s}) + message(cut);
        }
        double[] link = LINKS.get(site);
        return (batches + 1.5) * link[0] + 8.0 * wire / link[1] + 6.0 * MACS * SAMPLES / FLOPS;
    }

    @Test
    void eachSiteGetsTheCutWithTheLeastModelledRoundTime() {
        Cli.Result r = Cli.run("plan-cuts", "conf/testbeds/aiedge.conf", "conf/quickstart.conf", "--samples", "6000").ok();
        Map<String, String[]> rows = new HashMap<>();
        for (String line : r.out().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (LINKS.containsKey(f[0])) {
                rows.put(f[0], f);
            }
        }
        assertEquals(LINKS.keySet(), rows.keySet(), r.out());
        double uniformRound = 0;
        double plannedRound = 0;
        double uniformServer = 0;
        double plannedServer = 0;
        StringBuilder map = new StringBuilder();
        for (String site : List.of("osu", "utaustin", "umich", "iitb")) {
            // site samples speed "rtt" X "ms," Y "Mbit/s" cut activations seconds best activations seconds
            String[] f = rows.get(site);
            List<String> tail = Arrays.asList(f).subList(f.length - 6, f.length);
            int best = 1;
            for (int c = 2; c <= 9; c++) {
                if (seconds(site, c) < seconds(site, best)) {
                    best = c;
                }
            }
            assertEquals(List.of("6", "3136", String.format(java.util.Locale.ROOT, "%.3f", seconds(site, 6)),
                    Integer.toString(best), Long.toString(ACTIVATIONS[best - 1]), String.format(java.util.Locale.ROOT, "%.3f", seconds(site, best))),
                    tail, site + ": " + r.out());
            assertTrue(seconds(site, best) <= seconds(site, 6), site);
            uniformRound = Math.max(uniformRound, seconds(site, 6));
            plannedRound = Math.max(plannedRound, seconds(site, best));
            uniformServer += 6.0 * SERVER_MACS[5] * SAMPLES / FLOPS;
            plannedServer += 6.0 * SERVER_MACS[best - 1] * SAMPLES / FLOPS;
            map.append(map.length() == 0 ? "" : ", ").append(site).append(" = ").append(best);
        }
        assertTrue(Long.parseLong(rows.get("iitb")[rows.get("iitb").length - 2]) <= 3136, "iitb's activations at its best cut");
        // SplitFed's round: the slowest site, and at least the server's total work.
        assertTrue(r.out().contains(String.format(java.util.Locale.ROOT, "modelled round: %.3f s at the uniform cut, %.3f s at the best cut",
                Math.max(uniformRound, uniformServer), Math.max(plannedRound, plannedServer))), r.out());
        assertTrue(r.out().contains("model.cut = { " + map + " }"), r.out());
    }
}
