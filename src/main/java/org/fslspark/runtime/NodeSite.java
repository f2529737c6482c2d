package org.fslspark.runtime;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.fslspark.runtime.Placement.PlacementException;

/**
 * A Kubernetes executor's site label, read from its node's labels through the API server with the
 * fabric8 client that Spark's Kubernetes support ships (in the image's /opt/spark/jars). Every
 * executor pod comes from one template, so the site cannot be an environment variable of the pod:
 * the template names the node (Downward API {@code spec.nodeName}, which cannot expose the node's
 * labels) and the label key, and the executor asks for the node with its own service account token,
 * which needs {@code get nodes} (conf/spark/k8s/rbac.yaml). No init container, no kubectl image.
 */
final class NodeSite {
    private NodeSite() {
    }

    /** The value of the label {@code key} of node {@code node}, asked in-cluster (the pod's service account). */
    static String read(String node, String key) {
        try (KubernetesClient client = new KubernetesClientBuilder().build()) {
            return read(client, node, key);
        }
    }

    static String read(KubernetesClient client, String node, String key) {
        Node n;
        try {
            n = client.nodes().withName(node).get();
        } catch (KubernetesClientException e) {
            throw new PlacementException("cannot read the labels of this executor's node " + node + " from the Kubernetes API (HTTP "
                    + e.getCode() + (e.getCode() == 403 ? ": the executor's service account may not get nodes; apply"
                    + " conf/spark/k8s/rbac.yaml and set spark.kubernetes.authenticate.executor.serviceAccountName=fsl-spark-executor"
                    : "") + "): " + e.getMessage());
        }
        if (n == null) {
            throw new PlacementException("this executor's node " + node + " is unknown to the Kubernetes API");
        }
        String value = n.getMetadata().getLabels() == null ? null : n.getMetadata().getLabels().get(key);
        if (value == null || value.isBlank()) {
            throw new PlacementException("this executor's node " + node + " has no label " + key
                    + " (label each site's nodes: kubectl label node NODE " + key + "=SITE)");
        }
        return value.trim();
    }
}
