package org.fslspark.testbed;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import org.apache.hadoop.conf.Configuration;
import org.fslspark.metrics.HadoopFiles;
import org.fslspark.transport.SiteLink;

import java.io.File;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads a topology file (HOCON) and checks it once: every error names the file and the key.
 * Checked: unknown keys, a server site that is not a site, a link for an unknown site, a site
 * without a link, non-positive round-trip times, throughputs and speeds, negative GPU counts, and
 * a host or label that two sites claim.
 */
public final class TopologyLoader {
    private static final String SITE_ID = "[a-z0-9][a-z0-9_-]*";
    private static final Set<String> TOP_KEYS = Set.of("name", "server-site", "sites", "links");
    private static final Set<String> SITE_KEYS = Set.of("title", "executors", "data", "compute");
    private static final Set<String> EXECUTOR_KEYS = Set.of("label", "hosts", "kubernetes-node-selector", "yarn-node-label");
    private static final Set<String> COMPUTE_KEYS = Set.of("gpus", "relative-speed");
    private static final Set<String> LINK_KEYS = Set.of("rtt", "throughput-mbps");

    private TopologyLoader() {
    }

    public static Topology load(File file) {
        return load(file.getPath());
    }

    /** A topology file named by a local path or any Hadoop URI ({@code hdfs://nn/fsl/aiedge.conf}). */
    public static Topology load(String location) {
        String text;
        try {
            text = HadoopFiles.readText(location, new Configuration());
        } catch (java.io.FileNotFoundException e) {
            throw new TopologyException("topology file " + e.getMessage(), e);
        }
        Config c;
        try {
            // A local file is parsed from its path so that its relative includes resolve beside it.
            c = (HadoopFiles.hasScheme(location)
                    ? ConfigFactory.parseString(text, ConfigParseOptions.defaults().setOriginDescription(location))
                    : ConfigFactory.parseFile(new File(location), ConfigParseOptions.defaults().setAllowMissing(false))).resolve();
        } catch (ConfigException e) {
            throw new TopologyException("cannot parse " + location + ": " + e.getMessage(), e);
        }
        return parse(c, location);
    }

    /** Builds a topology from parsed config; {@code source} names it in messages. */
    public static Topology parse(Config c, String source) {
        return new Reader(c, source).topology();
    }

    private record Reader(Config root, String source) {
        Topology topology() {
            unknownKeys(root, "", TOP_KEYS);
            String name = root.hasPath("name") ? string(root, "name", "name") : new File(source).getName().replaceAll("\\.conf$", "");
            if (!root.hasPath("sites")) {
                throw error("sites", "is missing: a topology lists its sites");
            }
            Config sitesConf = object(root, "sites", "sites");
            if (sitesConf.root().isEmpty()) {
                throw error("sites", "lists no site");
            }
            Map<String, Topology.Site> sites = new LinkedHashMap<>();
            for (String id : inFileOrder(sitesConf)) {
                if (!id.matches(SITE_ID)) {
                    throw error("sites." + id, "'" + id + "' is not a site id (lower-case letters, digits, - and _)");
                }
                sites.put(id, site(id, object(sitesConf, quote(id), "sites." + id), "sites." + id));
            }
            if (!root.hasPath("server-site")) {
                throw error("server-site", "is missing: name the site that hosts the server part");
            }
            String server = string(root, "server-site", "server-site");
            if (!sites.containsKey(server)) {
                throw error("server-site", "= '" + server + "' is not one of the sites " + sites.keySet());
            }
            checkClaims(sites);
            Map<String, SiteLink> links = new LinkedHashMap<>();
            Config linksConf = root.hasPath("links") ? object(root, "links", "links") : ConfigFactory.empty();
            for (String id : inFileOrder(linksConf)) {
                if (!sites.containsKey(id)) {
                    throw error("links." + id, "names an unknown site '" + id + "'; sites: " + sites.keySet());
                }
                links.put(id, link(object(linksConf, quote(id), "links." + id), "links." + id));
            }
            for (String id : sites.keySet()) {
                if (!links.containsKey(id)) {
                    throw error("links." + id, "is missing: every site needs its link to the server site '" + server
                            + "' (rtt, throughput-mbps)" + (id.equals(server) ? "; the server site's own entry is its same-site link" : ""));
                }
            }
            Map<String, SiteLink> ordered = new LinkedHashMap<>();
            sites.keySet().forEach(id -> ordered.put(id, links.get(id)));
            return new Topology(source, name, server, Collections.unmodifiableMap(sites), Collections.unmodifiableMap(ordered));
        }

        Topology.Site site(String id, Config c, String path) {
            unknownKeys(c, path + ".", SITE_KEYS);
            String title = c.hasPath("title") ? string(c, "title", path + ".title") : id;
            Config ex = c.hasPath("executors") ? object(c, "executors", path + ".executors") : ConfigFactory.empty();
            String ep = path + ".executors";
            unknownKeys(ex, ep + ".", EXECUTOR_KEYS);
            String label = ex.hasPath("label") ? string(ex, "label", ep + ".label") : id;
            if (label.isBlank()) {
                throw error(ep + ".label", "is empty; leave it out to use the site id '" + id + "'");
            }
            List<String> hosts = ex.hasPath("hosts") ? strings(ex, "hosts", ep + ".hosts") : List.of();
            Set<String> seen = new TreeSet<>();
            for (String h : hosts) {
                if (h.isBlank()) {
                    throw error(ep + ".hosts", "holds an empty host name");
                }
                if (!seen.add(h)) {
                    throw error(ep + ".hosts", "lists host " + h + " twice");
                }
            }
            Map<String, String> selector = new LinkedHashMap<>();
            if (ex.hasPath("kubernetes-node-selector")) {
                Config sel = object(ex, "kubernetes-node-selector", ep + ".kubernetes-node-selector");
                for (Map.Entry<String, ConfigValue> e : sel.entrySet()) {
                    if (e.getValue().valueType() == ConfigValueType.OBJECT || e.getValue().valueType() == ConfigValueType.LIST) {
                        throw error(ep + ".kubernetes-node-selector." + e.getKey(), "must be a string (a node label's value)");
                    }
                    selector.put(e.getKey().replace("\"", ""), String.valueOf(e.getValue().unwrapped()));
                }
            }
            String yarnLabel = ex.hasPath("yarn-node-label") ? string(ex, "yarn-node-label", ep + ".yarn-node-label") : "";
            String data = c.hasPath("data") ? string(c, "data", path + ".data") : "";
            Config comp = c.hasPath("compute") ? object(c, "compute", path + ".compute") : ConfigFactory.empty();
            unknownKeys(comp, path + ".compute.", COMPUTE_KEYS);
            int gpus = comp.hasPath("gpus") ? integer(comp, "gpus", path + ".compute.gpus") : 0;
            if (gpus < 0) {
                throw error(path + ".compute.gpus", "must be >= 0, got " + gpus);
            }
            double speed = comp.hasPath("relative-speed") ? number(comp, "relative-speed", path + ".compute.relative-speed") : 1.0;
            if (!(speed > 0) || Double.isInfinite(speed)) {
                throw error(path + ".compute.relative-speed", "must be > 0, got " + speed);
            }
            return new Topology.Site(id, title, new Topology.Executors(label, List.copyOf(hosts),
                    Collections.unmodifiableMap(selector), yarnLabel), data, new Topology.Compute(gpus, speed));
        }

        SiteLink link(Config c, String path) {
            unknownKeys(c, path + ".", LINK_KEYS);
            if (!c.hasPath("rtt")) {
                throw error(path + ".rtt", "is missing: the round-trip time, e.g. rtt = 10 ms");
            }
            if (!c.hasPath("throughput-mbps")) {
                throw error(path + ".throughput-mbps", "is missing: the throughput in Mbit/s, e.g. throughput-mbps = 1000");
            }
            Duration rtt;
            try {
                rtt = c.getDuration("rtt");
            } catch (ConfigException e) {
                throw error(path + ".rtt", "must be a duration such as 10 ms: " + e.getMessage());
            }
            if (rtt.isNegative() || rtt.isZero()) {
                throw error(path + ".rtt", "must be > 0, got " + c.getValue("rtt").unwrapped());
            }
            double mbps = number(c, "throughput-mbps", path + ".throughput-mbps");
            if (!(mbps > 0) || Double.isInfinite(mbps)) {
                throw error(path + ".throughput-mbps", "must be > 0, got " + mbps);
            }
            return new SiteLink(rtt.toNanos() / 1e9, mbps * 1e6);
        }

        /** No host or label may belong to two sites. */
        void checkClaims(Map<String, Topology.Site> sites) {
            Map<String, String> hostOwner = new HashMap<>();
            Map<String, String> labelOwner = new HashMap<>();
            for (Topology.Site s : sites.values()) {
                for (String h : s.executors().hosts()) {
                    String other = hostOwner.putIfAbsent(h, s.id());
                    if (other != null) {
                        throw error("sites." + s.id() + ".executors.hosts", "lists host " + h
                                + ", which sites." + other + ".executors.hosts lists too; a host belongs to one site");
                    }
                }
                String other = labelOwner.putIfAbsent(s.executors().label(), s.id());
                if (other != null) {
                    throw error("sites." + s.id() + ".executors.label", "= '" + s.executors().label()
                            + "' is the label of site '" + other + "' too; a label belongs to one site");
                }
            }
        }

        /** An object's keys in the order the file defines them (HOCON objects keep no order). */
        static List<String> inFileOrder(Config c) {
            List<String> keys = new ArrayList<>(c.root().keySet());
            keys.sort(java.util.Comparator.comparingInt((String k) -> c.root().get(k).origin().lineNumber())
                    .thenComparing(java.util.Comparator.naturalOrder()));
            return keys;
        }

        void unknownKeys(Config c, String prefix, Set<String> allowed) {
            Set<String> unknown = new TreeSet<>();
            for (String k : c.root().keySet()) {
                if (!allowed.contains(k)) {
                    unknown.add(prefix + k);
                }
            }
            if (!unknown.isEmpty()) {
                throw new TopologyException(source + ": unknown key" + (unknown.size() > 1 ? "s " : " ") + unknown
                        + "; allowed" + (prefix.isEmpty() ? "" : " under " + prefix.substring(0, prefix.length() - 1))
                        + ": " + String.join(", ", new TreeSet<>(allowed)));
            }
        }

        Config object(Config c, String key, String path) {
            try {
                return c.getConfig(key);
            } catch (ConfigException e) {
                throw error(path, "must be an object { ... }: " + e.getMessage());
            }
        }

        String string(Config c, String key, String path) {
            try {
                return c.getString(key);
            } catch (ConfigException e) {
                throw error(path, "must be a string: " + e.getMessage());
            }
        }

        List<String> strings(Config c, String key, String path) {
            try {
                return new ArrayList<>(c.getStringList(key));
            } catch (ConfigException e) {
                throw error(path, "must be a list of strings: " + e.getMessage());
            }
        }

        int integer(Config c, String key, String path) {
            try {
                return c.getInt(key);
            } catch (ConfigException e) {
                throw error(path, "must be an integer: " + e.getMessage());
            }
        }

        double number(Config c, String key, String path) {
            try {
                return c.getDouble(key);
            } catch (ConfigException e) {
                throw error(path, "must be a number: " + e.getMessage());
            }
        }

        TopologyException error(String key, String what) {
            return new TopologyException(source + ": " + key + " " + what);
        }

        static String quote(String id) {
            return "\"" + id + "\"";
        }
    }
}
