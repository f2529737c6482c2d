package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.ServerOrder;
import org.fslspark.testbed.Topology;
import org.fslspark.transport.Direction;
import org.fslspark.transport.Kind;
import org.fslspark.transport.SiteLink;
import org.fslspark.transport.TrafficMeter;

import java.util.List;

/**
 * The time a round would take on the test-bed's links and compute figures, from what its tasks
 * report: each client's compute seconds, messages and wire bytes, the server's compute seconds.
 * Compute measured here counts as relative speed 1.0; a site of speed v computes in measured / v.
 * A link costs the round-trip time per exchange and 8 × bytes / throughput for what crosses it.
 * Without a topology every link is ideal (no delay, unlimited throughput) and every speed 1.0.
 *
 * <ul>
 *   <li>Per-batch, sequential clients (SL, and SplitFed whose server serves client by client,
 *       since each client then waits for the previous one's turn): the clients' turns add up. A client's turn is the
 *       model coming down, one round trip per minibatch, the model going up, its compute and the
 *       server's work on its batches: (n + 1) RTT + tx + c + s, plus half a round trip for the
 *       first HELLO.</li>
 *   <li>Per-batch, parallel clients (SplitFed-V1/V2): the slowest site, (n + 1.5) RTT + tx + c + s
 *       (HELLO up, model down, n exchanges, model up), and at least the server's total work.
 *       The server's work on a client's batches is its share of the server's compute by batches.</li>
 *   <li>One-way (CSE-FSL, FSL-SAGE): the slowest client, RTT + tx(down) + max(c, tx(uploads)) +
 *       tx(model up) (uploads cross the link while the client computes), then the server stage and
 *       the alignment stage (all at the server site: its seconds from first start to last end, since
 *       the site runs as many aligners at once as its executors have slots), as the bulk data path
 *       runs them.</li>
 *   <li>Local (FedAvg): the slowest client, RTT + tx(down) + c + tx(up).</li>
 * </ul>
 */
public final class TimeModel {
    private TimeModel() {
    }

    /**
     * Whether a round's clients take turns: SL's by its rules, and a per-batch algorithm's when its server
     * serves one client's minibatches before the next one's.
     */
    public static boolean clientsTakeTurns(Algorithm algorithm, ServerOrder order) {
        return algorithm.sequentialClients() || (algorithm.flow() == Algorithm.Flow.PER_BATCH
                && order == ServerOrder.CLIENT_BY_CLIENT);
    }

    /**
     * @param topology          the test-bed, or null for ideal links
     * @param reports           the round's client and server tasks
     * @param alignmentSeconds  seconds of the round's alignment stage at the server site (0 if none)
     */
    public static double roundSeconds(Algorithm.Flow flow, boolean sequentialClients, Topology topology,
                                      String serverSite, List<TaskReport> reports, double alignmentSeconds) {
        double serverSpeed = speed(topology, serverSite);
        double serverCompute = reports.stream().filter(r -> r.role().equals("server"))
                .mapToDouble(TaskReport::computeSeconds).sum() / serverSpeed;
        List<TaskReport> clients = reports.stream().filter(r -> r.role().equals("client")).toList();
        return switch (flow) {
            case PER_BATCH -> perBatch(sequentialClients, topology, clients, serverCompute);
            case ONE_WAY -> {
                double slowest = 0;
                for (TaskReport r : clients) {
                    Link l = Link.of(topology, r.institute());
                    double c = r.computeSeconds() / speed(topology, r.institute());
                    long modelUp = wire(r, Direction.UP, true);
                    slowest = Math.max(slowest, l.rtt + l.tx(wire(r, Direction.DOWN, null))
                            + Math.max(c, l.tx(wire(r, Direction.UP, false))) + l.tx(modelUp));
                }
                yield slowest + serverCompute + alignmentSeconds / serverSpeed;
            }
            case LOCAL -> {
                double slowest = 0;
                for (TaskReport r : clients) {
                    Link l = Link.of(topology, r.institute());
                    slowest = Math.max(slowest, l.rtt + l.tx(wire(r, Direction.DOWN, null) + wire(r, Direction.UP, null))
                            + r.computeSeconds() / speed(topology, r.institute()));
                }
                yield slowest;
            }
        };
    }

    private static double perBatch(boolean sequential, Topology topology, List<TaskReport> clients, double serverCompute) {
        long batches = clients.stream().mapToLong(TimeModel::exchanges).sum();
        double total = 0;
        double slowest = 0;
        double firstHello = 0;
        for (TaskReport r : clients) {
            Link l = Link.of(topology, r.institute());
            long n = exchanges(r);
            double share = batches == 0 ? serverCompute / clients.size() : serverCompute * n / batches;
            double own = l.tx(wire(r, Direction.UP, null) + wire(r, Direction.DOWN, null))
                    + r.computeSeconds() / speed(topology, r.institute()) + share;
            if (r.client() == 0) {
                firstHello = l.rtt / 2;
            }
            total += (n + 1) * l.rtt + own;
            slowest = Math.max(slowest, (n + 1.5) * l.rtt + own);
        }
        return sequential ? firstHello + total : Math.max(slowest, serverCompute);
    }

    /** Minibatches a per-batch client exchanged: its messages down, less the model. */
    static long exchanges(TaskReport r) {
        return Math.max(0, messages(r, Direction.DOWN) - 1);
    }

    private static long messages(TaskReport r, Direction d) {
        return r.traffic().stream().filter(c -> c.direction() == d).mapToLong(TrafficMeter.Count::messages).sum();
    }

    /** Wire bytes in one direction: of models only (true), of everything else (false), or all (null). */
    private static long wire(TaskReport r, Direction d, Boolean models) {
        return r.traffic().stream().filter(c -> c.direction() == d)
                .filter(c -> models == null || models == (c.kind() == Kind.MODEL || c.kind() == Kind.AUXILIARY_MODEL))
                .mapToLong(TrafficMeter.Count::wireBytes).sum();
    }

    private static double speed(Topology topology, String site) {
        return topology == null ? 1.0 : topology.site(site).compute().relativeSpeed();
    }

    /** A link's round trip and the transmission time of a number of bytes; ideal without a topology. */
    private record Link(double rtt, double bitsPerSecond) {
        static Link of(Topology topology, String site) {
            if (topology == null) {
                return new Link(0, Double.POSITIVE_INFINITY);
            }
            SiteLink l = topology.link(site);
            return new Link(l.rttSeconds(), l.throughputBitsPerSecond());
        }

        double tx(long bytes) {
            return bytes * 8.0 / bitsPerSecond;
        }
    }
}
