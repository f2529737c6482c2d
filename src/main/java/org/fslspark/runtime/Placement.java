package org.fslspark.runtime;

import org.apache.spark.SparkEnv;
import org.fslspark.testbed.TopologyException;

/**
 * Where a task runs. An executor learns its site from the environment variable FSL_SITE (set on
 * each site's workers, inherited by their executors) or, with a test-bed, from its host when the
 * topology lists it. Without a test-bed, or in local mode, an executor without a label stands for
 * every site; on a cluster with a test-bed, an executor the topology does not recognise belongs
 * to no site and runs no site's work. Where executors share one environment (Kubernetes pod
 * templates), FSL_SITE_NODE_LABEL names a label of the executor's node (FSL_NODE_NAME) that holds it
 * instead ({@link NodeSite}).
 */
public final class Placement {
    public static final String SITE_ENV = "FSL_SITE";
    /** The key of the node label holding the site, where no per-executor variable can be set (Kubernetes: conf/spark/k8s). */
    public static final String SITE_NODE_LABEL_ENV = "FSL_SITE_NODE_LABEL";
    /** The executor's node (Kubernetes Downward API spec.nodeName). */
    public static final String NODE_NAME_ENV = "FSL_NODE_NAME";
    public static final String LOCAL = "local";
    public static final String UNKNOWN = "unknown";

    private Placement() {
    }

    /** The site label of the node, asked once per executor JVM (its node never changes). */
    private static volatile String nodeLabel;

    /** The label this executor carries, or null. */
    static String label() {
        String site = System.getenv(SITE_ENV);
        String key = System.getenv(SITE_NODE_LABEL_ENV);
        if ((site == null || site.isBlank()) && key != null && !key.isBlank()) {
            if (nodeLabel == null) {
                String node = System.getenv(NODE_NAME_ENV);
                if (node == null || node.isBlank()) {
                    throw new PlacementException(SITE_NODE_LABEL_ENV + " is set but " + NODE_NAME_ENV
                            + " is not (the executor pod template sets it from spec.nodeName)");
                }
                nodeLabel = NodeSite.read(node, key);
            }
            site = nodeLabel;
        }
        return site == null || site.isBlank() ? null : site;
    }

    /** This executor's host as Spark knows it, or null outside Spark. */
    static String host() {
        SparkEnv env = SparkEnv.get();
        return env == null ? null : env.blockManager().blockManagerId().host();
    }

    /** The executor's own label, {@link #LOCAL} without one. */
    public static String executorSite() {
        String label = label();
        return label == null ? LOCAL : label;
    }

    /**
     * The site this executor belongs to under the test-bed's rules: by label or host when a
     * topology is set; {@link #LOCAL} when it stands for every site; {@link #UNKNOWN} when placement
     * by site applies and the topology does not recognise it.
     */
    public static String executorSite(TestbedPlan testbed) {
        if (testbed.topology() == null) {
            return executorSite();
        }
        String label = label();
        String site;
        try {
            site = testbed.topology().siteOf(label, host());
        } catch (TopologyException e) {
            throw new PlacementException(e.getMessage());
        }
        if (site != null) {
            return site;
        }
        return testbed.placeBySite() ? UNKNOWN : label == null ? LOCAL : label;
    }

    /** Fails the task unless this executor belongs to {@code site} (or stands for every site). */
    public static void requireSite(String site) {
        requireSite(site, TestbedPlan.NONE);
    }

    /**
     * Fails the task unless this executor belongs to {@code site} under the test-bed's rules. Every
     * task of a run starts here, so it also binds ND4J to the GPU Spark gave the task ({@link GpuBinding}).
     */
    public static void requireSite(String site, TestbedPlan testbed) {
        String here = executorSite(testbed);
        if (here.equals(UNKNOWN)) {
            throw new PlacementException("work of site '" + site + "' was scheduled on an executor on host " + host()
                    + (label() == null ? " without a site label" : " labelled '" + label() + "'") + ", which "
                    + testbed.topology().source() + " assigns to no site; refusing to run it there");
        }
        if (!here.equals(LOCAL) && !here.equals(site)) {
            throw new PlacementException("work of site '" + site + "' was scheduled on an executor of site '" + here
                    + "'; refusing to run it there");
        }
        GpuBinding.bindTask();
    }

    /** A task ran, or would read data, at the wrong site. */
    public static final class PlacementException extends RuntimeException {
        public PlacementException(String message) {
            super(message);
        }
    }
}
