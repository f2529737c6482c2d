package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Averaging;
import org.fslspark.config.Experiment;
import org.fslspark.model.CutLayout;
import org.fslspark.model.ModelZoo;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Message;
import org.fslspark.transport.TransportException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The driver's end of a round: the new global model from what the round's tasks returned, as the algorithm says
 * (ALGORITHMS.md), over the round's participants. When sites cut at different layers, each layer is averaged over
 * the copies that hold it (docs/CUTS.md): a site's weight goes to its own copy of the layers its client holds, and to
 * the server's copy (SplitFed-V1: the server's copy for that site) of the layers the server trained on its batches.
 */
final class Aggregation {
    private Aggregation() {
    }

    /** Where each institute's part of {@code e}'s model ends, from {@code model}, the model split at {@code e}'s cut. */
    static CutLayout layout(Experiment e, org.fslspark.model.SplitModel model) {
        return CutLayout.of(model, CutLayout.layerCuts(e.model(), e.cuts(), e.institutes().size()));
    }

    /** As {@link #aggregate(Algorithm, Experiment, CutLayout, List, List, INDArray, INDArray, INDArray)} for a run of the zoo's model. */
    static INDArray[] aggregate(Algorithm algorithm, Experiment e, List<Integer> participants, List<TaskReport> reports,
                                INDArray client, INDArray server) {
        return aggregate(algorithm, e, layout(e, ModelZoo.split(e.model(), e.seed())), participants, reports, client, server, null);
    }

    /**
     * The new global (x_c, x_s, the averaged auxiliary heads or null) from what the round's tasks returned, over the
     * round's participants (client ids, in order): the weights are renormalised over them, n_i / sum of the
     * participants' n_j (or uniform among them). CSE-FSL's heads are averaged per cut, one head per cut shape,
     * concatenated in the order of the cuts ({@link #head}); a cut none of the participants has keeps its head from
     * {@code auxiliary} (the heads the round began with, null before the first average: its seeded head).
     */
    static INDArray[] aggregate(Algorithm algorithm, Experiment e, CutLayout layout, List<Integer> participants,
                                List<TaskReport> reports, INDArray client, INDArray server, INDArray auxiliary) {
        long[] samples = new long[participants.size()];
        Map<String, byte[]> models = new HashMap<>();
        for (TaskReport r : reports) {
            if (participants.contains(r.client())) {
                samples[participants.indexOf(r.client())] = r.samples();
            }
            models.putAll(r.models());
        }
        double[] weights = Averaging.weights(samples, e.train().uniformWeights());
        Models returned = new Models(e, layout, models, algorithm.averaged().contains(Algorithm.Part.AUXILIARY));
        if (algorithm.sequentialClients()) {
            // SL: the client weights the last client handed back (x_c, the layers every client holds; the server took
            // over the layers between cuts), and the server's part.
            return new INDArray[]{returned.get("client/" + participants.get(participants.size() - 1), -1, 0, client.length()),
                    returned.get("server", 0, server.length()), null};
        }
        int last = layout.layers();
        List<Averaging.Copy> copies = new ArrayList<>();
        for (int p = 0; p < participants.size(); p++) {
            int i = participants.get(p);
            int cut = layout.cut(i);
            if (algorithm.flow() == Algorithm.Flow.LOCAL) {
                copies.add(new Averaging.Copy(returned.get("client/" + i, 0, layout.clientParams(i)), 0, cut, weights[p]));
                copies.add(new Averaging.Copy(returned.get("client/" + i, 1, layout.serverParams(i)), cut, last, weights[p]));
                continue;
            }
            if (algorithm.averaged().contains(Algorithm.Part.CLIENT)) {
                copies.add(new Averaging.Copy(returned.get("client/" + i, 0, layout.clientParams(i)), 0, cut, weights[p]));
            }
            if (algorithm.averaged().contains(Algorithm.Part.SERVER)) {
                copies.add(new Averaging.Copy(returned.get("server/" + i, 0, layout.serverParams(i)), cut, last, weights[p]));
            }
        }
        if (!algorithm.averaged().contains(Algorithm.Part.CLIENT) && algorithm.flow() != Algorithm.Flow.LOCAL) {
            copies.add(new Averaging.Copy(client, 0, layout.shallowest(), 1.0));
        }
        if (!algorithm.averaged().contains(Algorithm.Part.SERVER) && algorithm.flow() != Algorithm.Flow.LOCAL) {
            sharedServer(layout, participants, weights, returned.get("server", 0, server.length()), copies);
        }
        INDArray full = Averaging.byLayer(layout.offsets(), copies);
        long split = client.length();
        INDArray nextClient = full.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(0, split)).dup();
        INDArray nextServer = full.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(split, full.length())).dup();
        INDArray nextAuxiliary = algorithm.averaged().contains(Algorithm.Part.AUXILIARY)
                ? heads(e, layout, participants, samples, returned, auxiliary) : null;
        return new INDArray[]{nextClient, nextServer, nextAuxiliary};
    }

    /**
     * The one server part x_s as copies of its segments (the layers from one cut to the next): each counts with the
     * weights of the participants whose batches went through it, those cutting at or above its first layer. A segment
     * no participant's batches reached is left out: the participants' own copies hold it.
     */
    private static void sharedServer(CutLayout layout, List<Integer> participants, double[] weights, INDArray shared,
                                     List<Averaging.Copy> copies) {
        int first = layout.shallowest();
        int[] entries = layout.entries();
        for (int k = 0; k < entries.length; k++) {
            int from = first + entries[k];
            int to = k + 1 < entries.length ? first + entries[k + 1] : layout.layers();
            double weight = 0;
            for (int p = 0; p < participants.size(); p++) {
                if (layout.cut(participants.get(p)) <= from) {
                    weight += weights[p];
                }
            }
            if (weight > 0) {
                long start = layout.offsets()[from] - layout.offsets()[first];
                long end = layout.offsets()[to] - layout.offsets()[first];
                INDArray part = start == 0 && end == shared.length() ? shared
                        : shared.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(start, end));
                copies.add(new Averaging.Copy(part, from, to, weight));
            }
        }
    }

    /** The averaged auxiliary heads, one per cut in ascending order, each over the participants with that cut. */
    private static INDArray heads(Experiment e, CutLayout layout, List<Integer> participants, long[] samples, Models returned,
                                  INDArray before) {
        List<INDArray> out = new ArrayList<>();
        for (int cut : layout.distinctCuts()) {
            List<INDArray> heads = new ArrayList<>();
            List<Long> counts = new ArrayList<>();
            for (int p = 0; p < participants.size(); p++) {
                int i = participants.get(p);
                if (layout.cut(i) == cut) {
                    heads.add(returned.get("auxiliary/" + i, 0, -1));
                    counts.add(samples[p]);
                }
            }
            out.add(heads.isEmpty() ? previous(e, layout, cut, before)
                    : Averaging.average(heads, Averaging.weights(counts.stream().mapToLong(Long::longValue).toArray(),
                    e.train().uniformWeights())));
        }
        return out.size() == 1 ? out.get(0) : Nd4j.hstack(out);
    }

    /** The head of {@code cut} in {@code before}, or the seeded head its clients start from. */
    private static INDArray previous(Experiment e, CutLayout layout, int cut, INDArray before) {
        int client = java.util.stream.IntStream.range(0, e.institutes().size()).filter(i -> layout.cut(i) == cut).findFirst()
                .orElseThrow();
        return before != null ? head(e, layout, before, client)
                : ModelZoo.auxiliary(e.modelOf(client), e.settings().auxiliary(), e.settings().auxiliaryHidden(), e.seed()).params();
    }

    /** Client {@code client}'s head in {@code heads}, the averaged heads of every cut concatenated in ascending order of the cuts. */
    static INDArray head(Experiment e, CutLayout layout, INDArray heads, int client) {
        long start = 0;
        for (int cut : layout.distinctCuts()) {
            int member = java.util.stream.IntStream.range(0, e.institutes().size()).filter(i -> layout.cut(i) == cut)
                    .findFirst().orElseThrow();
            long n = RoundLimits.auxiliaryParams(e.modelOf(member), e.settings());
            if (cut == layout.cut(client)) {
                return start == 0 && n == heads.length() ? heads
                        : heads.reshape(1, heads.length()).get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(start, start + n)).dup();
            }
            start += n;
        }
        throw new IllegalArgumentException("no head for client " + client);
    }

    /** The models the round's tasks returned, by key, checked as frames from another site against the sizes of their parts. */
    private record Models(Experiment e, CutLayout layout, Map<String, byte[]> frames, boolean auxiliary) {
        /** Tensor {@code index} of the model under {@code key}, of {@code length} parameters (-1: any the limits allowed). */
        INDArray get(String key, int index, long length) {
            return get(key, client(key), index, length);
        }

        /** As {@link #get(String, int, long)}, checked against client {@code of}'s sizes (-1: the shallowest cut's). */
        INDArray get(String key, int of, int index, long length) {
            Message m = decode(key, of);
            if (m.tensors().size() <= index) {
                throw new TransportException(owner(key) + " returned " + m.tensors().size() + " tensors for '" + key + "'");
            }
            long n = m.tensor(index).elements();
            if (length >= 0 && n != length) {
                // Both parts' sizes are allowed for MODEL tensors; one part's must not pass for the other's.
                throw new TransportException(owner(key) + " returned " + n + " parameters for '" + key + "', expected " + length);
            }
            return m.tensor(index).toArray();
        }

        private Message decode(String key, int of) {
            byte[] frame = frames.get(key);
            if (frame == null) {
                throw new IllegalStateException("the round returned no model '" + key + "'");
            }
            try {
                return FrameCodec.decode(frame, limits(of));
            } catch (TransportException ex) {
                throw new TransportException(owner(key) + ": model '" + key + "': " + ex.getMessage(), ex);
            }
        }

        /** Client {@code client}'s parts (-1: those at the shallowest cut, x_c and x_s), and its head when heads are averaged. */
        private FrameLimits limits(int client) {
            int of = client >= 0 ? client : java.util.stream.IntStream.range(0, layout.cuts().length)
                    .filter(i -> layout.cut(i) == layout.shallowest()).findFirst().orElseThrow();
            return RoundLimits.models(layout.clientParams(of), layout.serverParams(of),
                    auxiliary ? RoundLimits.auxiliaryParams(e.modelOf(of), e.settings()) : 0);
        }

        /** The client a key names ("client/3", "server/3", "auxiliary/3"), -1 for "server". */
        private static int client(String key) {
            int slash = key.indexOf('/');
            return slash < 0 ? -1 : Integer.parseInt(key.substring(slash + 1));
        }

        /** Who produced the model under {@code key}: "client/3" and "auxiliary/3" an institute, the rest the server site. */
        private String owner(String key) {
            if (key.startsWith("client/") || key.startsWith("auxiliary/")) {
                int i = client(key);
                return "institute " + e.institutes().get(i) + " (client " + i + ")";
            }
            return "server site " + e.serverSite();
        }
    }
}
