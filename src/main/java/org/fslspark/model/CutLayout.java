package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Where each client's part of the model ends when sites cut at different layers (docs/CUTS.md), in the coordinates
 * of the unsplit model: its layers, and where each layer's parameters start in its flat vector. The global model is
 * split at the shallowest cut (x_c holds the layers every client holds, x_s the rest, the server's part); client i's
 * part is the prefix of the unsplit vector up to its own cut, and the server runs client i's batches from that layer
 * on. With one cut for every client, client parts are x_c and the server's batches all enter at its first layer.
 *
 * @param cuts    per client, the layers its part holds ({@link ModelZoo#cut}: a GPT's embeddings included)
 * @param offsets per layer boundary l = 0..layers, where layer l's parameters start in the unsplit vector: offsets[0] = 0,
 *                offsets[layers] = every trained parameter
 */
public record CutLayout(int[] cuts, long[] offsets) implements Serializable {
    public CutLayout {
        cuts = cuts.clone();
        offsets = offsets.clone();
        for (int c : cuts) {
            if (c < 1 || c >= offsets.length - 1) {
                throw new IllegalArgumentException("a cut at layer " + c + " of " + (offsets.length - 1));
            }
        }
    }

    /** The layout of {@code model} (split anywhere: its two sides' layers in order) for clients cut at {@code cuts} layers. */
    public static CutLayout of(SplitModel model, int[] cuts) {
        List<Layer> layers = new ArrayList<>(model.client().layers());
        layers.addAll(model.server().layers());
        long[] offsets = new long[layers.size() + 1];
        for (int l = 0; l < layers.size(); l++) {
            offsets[l + 1] = offsets[l] + layers.get(l).trainableParams();
        }
        return new CutLayout(cuts, offsets);
    }

    /**
     * The layers each client's part holds: {@code spec}'s cut for every one of {@code clients} when {@code cuts} is
     * empty, else client i's cut {@code cuts.get(i)} (in the model's cut units, 0 = its default).
     */
    public static int[] layerCuts(ModelSpec spec, List<Integer> cuts, int clients) {
        int[] out = new int[clients];
        for (int i = 0; i < clients; i++) {
            out[i] = ModelZoo.cut(cuts.isEmpty() ? spec : spec.withCut(cuts.get(i)));
        }
        return out;
    }

    public int layers() {
        return offsets.length - 1;
    }

    public int cut(int client) {
        return cuts[client];
    }

    /** The cut of the global split: the layers every client holds. */
    public int shallowest() {
        return Arrays.stream(cuts).min().orElseThrow();
    }

    public boolean uniform() {
        return Arrays.stream(cuts).distinct().count() == 1;
    }

    /** Parameters of client {@code client}'s part. */
    public long clientParams(int client) {
        return offsets[cuts[client]];
    }

    /** Parameters of the server part that runs client {@code client}'s batches (from its cut to the end). */
    public long serverParams(int client) {
        return offsets[layers()] - offsets[cuts[client]];
    }

    /** Where client {@code client}'s batches enter the server's part: a layer of x_s, 0 for the shallowest cut. */
    public int entry(int client) {
        return cuts[client] - shallowest();
    }

    /** The layers of x_s where some client's batches enter, ascending from 0: where the server's optimizers begin. */
    public int[] entries() {
        int s = shallowest();
        return Arrays.stream(cuts).map(c -> c - s).distinct().sorted().toArray();
    }

    /** The distinct cuts, ascending: one auxiliary model shape each. */
    public int[] distinctCuts() {
        return Arrays.stream(cuts).distinct().sorted().toArray();
    }

    /**
     * Client {@code client}'s part of the global model x_c, x_s: x_c itself at the shallowest cut, else x_c followed by
     * x_s's layers up to the client's cut.
     */
    public INDArray clientPart(INDArray globalClient, INDArray globalServer, int client) {
        long extra = offsets[cuts[client]] - offsets[shallowest()];
        if (extra == 0) {
            return globalClient;
        }
        return Nd4j.hstack(globalClient.reshape(1, globalClient.length()),
                globalServer.reshape(1, globalServer.length()).get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(0, extra)));
    }

    /** Client {@code client}'s server part of the global x_s: x_s's layers from the client's cut on (x_s itself at the shallowest). */
    public INDArray serverPart(INDArray globalServer, int client) {
        long skip = offsets[cuts[client]] - offsets[shallowest()];
        if (skip == 0) {
            return globalServer;
        }
        INDArray row = globalServer.reshape(1, globalServer.length());
        return row.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(skip, row.length()));
    }
}
