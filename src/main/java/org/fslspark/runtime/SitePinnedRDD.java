package org.fslspark.runtime;

import org.apache.spark.Partition;
import org.apache.spark.TaskContext;
import org.apache.spark.rdd.RDD;
import scala.collection.Iterator;
import scala.collection.JavaConverters;
import scala.collection.Seq;
import scala.reflect.ClassTag;

import java.util.ArrayList;
import java.util.List;

/**
 * Its parent's partitions, each preferring the executors of one site ({@link SiteExecutors}
 * locations, {@code executor_<host>_<id>}). Placed on top of a stage's input (the ids of a round's
 * tasks, or the shuffle the server reads), it decides where the stage's tasks run; the tasks still
 * refuse to run at the wrong site ({@link Placement#requireSite}).
 */
final class SitePinnedRDD<T> extends RDD<T> {
    private final ClassTag<T> tag;
    private final ArrayList<List<String>> locations;

    SitePinnedRDD(RDD<T> parent, List<List<String>> locations, ClassTag<T> tag) {
        super(parent, tag);
        if (locations.size() != parent.getNumPartitions()) {
            throw new IllegalArgumentException(locations.size() + " locations for " + parent.getNumPartitions() + " partitions");
        }
        this.tag = tag;
        this.locations = new ArrayList<>(locations);
    }

    @Override
    public Iterator<T> compute(Partition split, TaskContext context) {
        return firstParent(tag).iterator(split, context);
    }

    @Override
    public Partition[] getPartitions() {
        return firstParent(tag).partitions();
    }

    @Override
    public Seq<String> getPreferredLocations(Partition split) {
        return JavaConverters.asScalaBuffer(locations.get(split.index())).toList();
    }
}
