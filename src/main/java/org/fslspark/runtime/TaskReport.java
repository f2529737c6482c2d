package org.fslspark.runtime;

import org.fslspark.transport.TrafficMeter;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * What a task of a round returns to the driver: who ran where, what crossed the link, and the
 * models the driver needs (as encoded frames, the bytes that travelled).
 *
 * @param role          "client" or "server"
 * @param client        client index, -1 for the server
 * @param institute     the site the task served
 * @param executorSite  the site the executor reported for itself ("local" in local mode)
 * @param host          the executor's host
 * @param samples       training samples of the client (0 for the server)
 * @param traffic       what crossed the client's link, metered on the channel
 * @param seconds       wall time of the task's work
 * @param computeSeconds the part of it spent computing: a client's own steps without the time it
 *                      waited for the server or a link; the server's steps; an alignment's fit
 * @param models        encoded model frames: a client's upload (LOCAL flow) or, from the server,
 *                      "server", "server/<client>" copies and "client/<client>" received client models
 * @param state         the training state the task's executor holds at the end of the round ({@link HeldState}),
 *                      when the plan asks for it, inline or as the files the executor wrote; not traffic: it is the driver's copy for
 *                      checkpoints and reruns
 * @param retried       what crossed the client's link in this round's earlier, failed attempts, as far as this
 *                      executor's memory kept their meters ({@link FaultHook#meter}); not in the round's figures
 * @param versions      the training-state entries the task's executor used in the round, with their new versions
 *                      ({@link TaskState#used})
 * @param refused       from a per-batch server: the clients that dropped out of the round for a refused frame, with
 *                      the reason ({@link SyncServer#refused()})
 */
public record TaskReport(String role, int client, String institute, String executorSite, String host, long samples,
                         List<TrafficMeter.Count> traffic, double seconds, double computeSeconds,
                         Map<String, byte[]> models, Map<String, HeldCopy> state, List<TrafficMeter.Count> retried,
                         Map<String, String> versions, Map<Integer, String> refused)
        implements Serializable {

    /** A report with no traffic of earlier attempts. */
    public TaskReport(String role, int client, String institute, String executorSite, String host, long samples,
                      List<TrafficMeter.Count> traffic, double seconds, double computeSeconds,
                      Map<String, byte[]> models, Map<String, HeldCopy> state) {
        this(role, client, institute, executorSite, host, samples, traffic, seconds, computeSeconds, models, state, List.of(),
                Map.of(), Map.of());
    }

    /** This report with the traffic of earlier attempts. */
    public TaskReport withRetried(List<TrafficMeter.Count> counts) {
        return new TaskReport(role, client, institute, executorSite, host, samples, traffic, seconds, computeSeconds,
                models, state, counts, versions, refused);
    }

    /** This report with the training-state entries its executor used in the round (after the task's work). */
    public TaskReport withVersions(Map<String, String> used) {
        return new TaskReport(role, client, institute, executorSite, host, samples, traffic, seconds, computeSeconds,
                models, state, retried, used, refused);
    }

    /** This server's report with the clients it dropped from the round. */
    public TaskReport withRefused(Map<Integer, String> clients) {
        return new TaskReport(role, client, institute, executorSite, host, samples, traffic, seconds, computeSeconds,
                models, state, retried, versions, clients);
    }

    /** This report without the bytes (models, state) the driver has used. */
    public TaskReport withoutBytes() {
        return new TaskReport(role, client, institute, executorSite, host, samples, traffic, seconds, computeSeconds,
                Map.of(), Map.of(), retried, versions, refused);
    }
}
