// ContainerLayer: what a dynamic layer implements, besides DynamicLayer,
// when it needs the running container: its router (launchers, launch
// filters), its main loop, its service registry, bundle stops. The
// container instantiates every registered layer at Open; once Open has
// succeeded it calls AttachContainer on each layer that is a ContainerLayer
// (in kind order), and DetachContainer first thing when it closes, before
// any bundle stops. A layer whose attach fails is logged and left detached;
// the app goes on.
//
// Concurrency: both calls run on the thread that opens / destroys the
// container. The container outlives the attachment.
#ifndef ATRIUM_CONTAINER_LAYER_H_
#define ATRIUM_CONTAINER_LAYER_H_

#include "atrium/result.h"

namespace atrium {

class Container;

class ContainerLayer {
 public:
  virtual Status AttachContainer(Container& container) = 0;
  virtual void DetachContainer() {}

 protected:
  ~ContainerLayer() = default;
};

}  // namespace atrium

#endif  // ATRIUM_CONTAINER_LAYER_H_
