package org.fslspark.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** A model cut in two: the client part maps inputs to the cut activations, the server part maps them to logits. */
public record SplitModel(Network client, Network server) {

    /** Concatenation of client and server parameters: the unsplit model's vector. */
    public INDArray fullParams() {
        return Nd4j.hstack(client.params(), server.params());
    }

    public void setFullParams(INDArray full) {
        long nc = client.numParams();
        client.setParams(full.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, nc)));
        server.setParams(full.get(NDArrayIndex.point(0), NDArrayIndex.interval(nc, full.length())));
    }

    /** Per-sample shape of the activations at the cut. */
    public long[] cutShape() {
        return client.outputShape();
    }
}
