package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// Launch template garbage collection. Templates are named by the hash of what they hold, so every change of a node
// class (a new AMI release, a new kubelet setting) or of a NodePool's labels makes new ones; an account may hold
// 5,000. The collector deletes the cluster's templates that nothing current resolves to.
const (
	// LaunchTemplateGCInterval is how often the collector looks at the cluster's launch templates.
	LaunchTemplateGCInterval = 5 * time.Minute
	// launchTemplateGrace keeps a template this young whatever it looks like: a launch that read the node class just
	// before it changed may still be about to use it.
	launchTemplateGrace = 10 * time.Minute
	// launchTemplateUnusedTTL deletes a template of a current node class that this process has not launched with
	// for this long (the user data also carries a NodePool's labels and taints, which the tags do not describe). It
	// only applies once the process has been up that long; a template deleted while still wanted is made again by
	// the next launch that needs it.
	launchTemplateUnusedTTL = 24 * time.Hour
)

// GarbageCollectLaunchTemplates deletes the cluster's launch templates (tagged tailor.sh/cluster=<cluster> and, if
// they carry one, tailor.sh/cluster-uid=<uid>; never another's) that no current EC2NodeClass and NodePool resolves to: the node class is gone or being deleted, no
// NodePool uses it, its spec changed since (the template's node class hash tag), the template's AMI is no longer one
// it selects, or the template went unused for a day. Templates younger than 10 minutes are kept. It returns the
// names deleted.
func (p *Provider) GarbageCollectLaunchTemplates(ctx context.Context) ([]string, error) {
	classes := &apiv1.EC2NodeClassList{}
	if err := p.kube.List(ctx, classes); err != nil {
		return nil, fmt.Errorf("listing EC2NodeClasses: %w", err)
	}
	pools := &apiv1.NodePoolList{}
	if err := p.kube.List(ctx, pools); err != nil {
		return nil, fmt.Errorf("listing NodePools: %w", err)
	}
	byName := map[string]*apiv1.EC2NodeClass{}
	for i := range classes.Items {
		byName[classes.Items[i].Name] = &classes.Items[i]
	}
	used := map[string]bool{}
	for _, np := range pools.Items {
		if ref := np.Spec.Template.Spec.NodeClassRef; ref.Kind == apiv1.EC2NodeClassKind && np.DeletionTimestamp.IsZero() {
			used[ref.Name] = true
		}
	}
	templates, err := p.clusterTemplates(ctx, nil)
	if err != nil {
		return nil, err
	}
	now := p.clk.Now()
	var deleted []string
	var errs []error
	for _, lt := range templates {
		if now.Sub(aws.ToTime(lt.CreateTime)) < launchTemplateGrace {
			continue
		}
		reason := p.staleTemplate(lt, byName, used, now)
		if reason == "" {
			continue
		}
		if err := p.deleteTemplate(ctx, lt, reason); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, aws.ToString(lt.LaunchTemplateName))
	}
	return deleted, errors.Join(errs...)
}

// staleTemplate says why a template of this cluster is no longer wanted, or "" when it is.
func (p *Provider) staleTemplate(lt ec2types.LaunchTemplate, classes map[string]*apiv1.EC2NodeClass, used map[string]bool, now time.Time) string {
	tags := fromEC2Tags(lt.Tags)
	name := tags[TagEC2NodeClass]
	nc, ok := classes[name]
	switch {
	case !ok:
		return fmt.Sprintf("its EC2NodeClass %q no longer exists", name)
	case !nc.DeletionTimestamp.IsZero():
		return fmt.Sprintf("its EC2NodeClass %q is being deleted", name)
	case !used[name]:
		return fmt.Sprintf("no NodePool uses its EC2NodeClass %q", name)
	case tags[TagNodeClassHash] != NodeClassHash(nc):
		return fmt.Sprintf("its EC2NodeClass %q changed since it was made", name)
	}
	// An unresolved node class (no AMIs in its status) says nothing about its images; keep the template then.
	if ami := tags[TagAMI]; len(nc.Status.AMIs) > 0 && !slices.ContainsFunc(nc.Status.AMIs, func(a apiv1.AMI) bool { return a.ID == ami }) {
		return fmt.Sprintf("its AMI %s is no longer one EC2NodeClass %q selects", ami, name)
	}
	if now.Sub(p.started) >= launchTemplateUnusedTTL {
		last, ok := p.templates.lastUsed(aws.ToString(lt.LaunchTemplateName))
		if !ok || now.Sub(last) >= launchTemplateUnusedTTL {
			return fmt.Sprintf("no launch used it for %s", launchTemplateUnusedTTL)
		}
	}
	return ""
}

// DeleteNodeClassLaunchTemplates deletes the cluster's launch templates of an EC2NodeClass once it is gone (the node
// class controller calls it when the object is deleted). A node class that still exists keeps its templates.
func (p *Provider) DeleteNodeClassLaunchTemplates(ctx context.Context, nodeClass string) error {
	nc := &apiv1.EC2NodeClass{}
	err := p.kube.Get(ctx, client.ObjectKey{Name: nodeClass}, nc)
	switch {
	case err == nil && nc.DeletionTimestamp.IsZero():
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("getting EC2NodeClass %q: %w", nodeClass, err)
	}
	templates, err := p.clusterTemplates(ctx, []ec2types.Filter{{Name: aws.String("tag:" + TagEC2NodeClass), Values: []string{nodeClass}}})
	if err != nil {
		return err
	}
	var errs []error
	for _, lt := range templates {
		errs = append(errs, p.deleteTemplate(ctx, lt, fmt.Sprintf("its EC2NodeClass %q was deleted", nodeClass)))
	}
	return errors.Join(errs...)
}

// clusterTemplates lists the launch templates tagged for this cluster (and matching the extra filters). The tags are
// checked again on every answer: a template of another cluster, or of a cluster of the same name with another UID,
// is never returned.
func (p *Provider) clusterTemplates(ctx context.Context, filters []ec2types.Filter) ([]ec2types.LaunchTemplate, error) {
	in := &ec2.DescribeLaunchTemplatesInput{
		Filters: append([]ec2types.Filter{{Name: aws.String("tag:" + TagCluster), Values: []string{p.opts.ClusterName}}}, filters...),
	}
	var out []ec2types.LaunchTemplate
	pager := ec2.NewDescribeLaunchTemplatesPaginator(p.ec2, in)
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing the cluster's launch templates: %w", err)
		}
		for _, lt := range page.LaunchTemplates {
			if p.ownsTags(fromEC2Tags(lt.Tags)) {
				out = append(out, lt)
			}
		}
	}
	return out, nil
}

// deleteTemplate deletes one of the cluster's templates by ID and forgets it, so the next launch that wants it
// makes it again instead of naming a template that is gone.
func (p *Provider) deleteTemplate(ctx context.Context, lt ec2types.LaunchTemplate, reason string) error {
	name := aws.ToString(lt.LaunchTemplateName)
	p.templates.forget(name)
	_, err := p.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId})
	if err != nil && !isTemplateNotFound(errorCode(err)) {
		return fmt.Errorf("deleting launch template %s: %w", name, err)
	}
	log.FromContext(ctx).Info("deleted launch template", "launchTemplate", name, "id", aws.ToString(lt.LaunchTemplateId), "reason", reason)
	return nil
}

func isTemplateNotFound(code string) bool {
	return code == "InvalidLaunchTemplateId.NotFound" || code == "InvalidLaunchTemplateName.NotFoundException" ||
		code == "InvalidLaunchTemplateId.Malformed"
}

// LaunchTemplateGC returns the runnable that calls GarbageCollectLaunchTemplates every interval (on the leader only).
func (p *Provider) LaunchTemplateGC(interval time.Duration) manager.Runnable {
	return &launchTemplateGC{provider: p, interval: interval}
}

type launchTemplateGC struct {
	provider *Provider
	interval time.Duration
}

// Start collects every interval until ctx ends. A failed pass is logged and retried at the next one.
func (g *launchTemplateGC) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("launchtemplate-gc")
	ctx = log.IntoContext(ctx, logger)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-g.provider.clk.After(g.interval):
		}
		if _, err := g.provider.GarbageCollectLaunchTemplates(ctx); err != nil {
			logger.Error(err, "collecting launch templates")
		}
	}
}
