/* Frontdesk loader, see docs/realtime.md */
(function(w,d){
var F=w.Frontdesk,s=d.currentScript,x=d.querySelectorAll('script[src$="embed.js"]');
if(F&&F.fd)return;
s=s||x[x.length-1];
var FD=s.src.slice(0,s.src.indexOf('/',8)),D=s.dataset,key=D.siteKey,lang=D.lang||'',
 q=F&&F.q||[],on={},cb={},n=0,out=[],kept=[],open=0,T,P,cfg,side,X,Y,hid,host,root,btn,dot,ifr,mq,geo,want,C,G,i,L;
function emit(t,v){for(var h=on[t]||[],k=0;k<h.length;k++)h[k](v);}
function post(t,m){
 if(t)m=m||{},m.fd=1,m.type=t,out.push(m);
 for(var k=0;geo&&k<out.length;k++)ifr.contentWindow.postMessage(out[k],FD);
 if(geo)out=[];
}
function api(c,a,b){
 if(c=='open'||c=='close')set(c=='open');
 if(c=='hide'||c=='show')hid=c<'i',btn&&render();
 if(c=='identify')post(c,{data:a,ref:b?(cb[++n]=b,n):0});
 if(c=='on'&&b)(on[a]=on[a]||[]).push(b);
 if(c=='consent')(G=a)?(C=0,btn&&make()):post(c);
}
function lock(v,s,k,p){
 for(s=d.documentElement.style,k=0;k<2;k++)p='overflow-'+'xy'[k],
  v?kept[k]||(kept[k]=[s.getPropertyValue(p),s.getPropertyPriority(p)],s.setProperty(p,'hidden','important')):
  kept[k]&&(s.setProperty(p,kept[k][0],kept[k][1]),kept[k]=0);
}
function render(){
 var full=open&&geo&&mq.matches,v=w.visualViewport||{};
 btn.ariaLabel=T[open];
 btn.ariaExpanded=!!open;
 btn.style.display=hid?'none':'';
 host.style.setProperty('z-index',2147483e3+open*647,'important');
 if(ifr)ifr.inert=ifr.ariaHidden=!open,ifr.style.cssText='all:initial;position:fixed;'+(!open||!geo?'width:0;height:0;visibility:hidden':
  full?geo.full+';top:'+v.offsetTop+'px;height:'+v.height+'px':geo[side]);
 lock(full);
}
function make(){
 if(ifr||C)return;
 ifr=root.appendChild(d.createElement('iframe'));
 ifr.title='Chat';
 ifr.referrerPolicy='no-referrer-when-downgrade';
 ifr.src=FD+'/widget/panel.html?site='+key+'&origin='+encodeURIComponent(location.origin)+'&lang='+lang+'&x='+X+'&y='+Y;
 render();
}
function set(v){
 var f=d.activeElement==host,t=v?'open':'close';
 if(!btn)return want=v;
 if(open==v)return;
 open=+v;
 C=0;
 make();
 render();
 post(t);
 v?ifr.focus():f&&btn.focus();
 emit(t);
}
function start(){
 var c=cfg.site.color,g;
 side=cfg.site.position;
 side=side=='auto'?d.dir=='rtl'?'left':'right':side;
 X=cfg.site.offset_x;Y=cfg.site.offset_y;C=cfg.site.consent&&!G;
 T=cfg.labels;
 (host=d.createElement('frontdesk-widget')).style.cssText='all:initial!important;position:fixed!important;visibility:hidden!important';
 root=host.attachShadow({mode:'open'});
 (btn=root.appendChild(d.createElement('button'))).style.cssText='all:initial;position:fixed;bottom:'+Y+'px;'+side+
  ':'+X+'px;width:56px;height:56px;border-radius:50%;cursor:pointer;box-shadow:0 4px 16px #0005;outline-offset:3px;background:'+c;
 g=btn.appendChild(d.createElementNS('http://www.w3.org/2000/svg','svg'));
 (P=g.appendChild(d.createElementNS(g.namespaceURI,'path'))).setAttribute('d','M5 6h16v12H10l-5 4z');
 g.style.cssText='display:block;margin:15px;width:26px;height:26px;fill:'+cfg.site.text_color;
 dot=btn.appendChild(d.createElement('span'));
 btn.onclick=function(){set(!open);};
 btn.onpointerenter=make;
 btn.onfocus=btn.onblur=function(e){make();btn.style.outline=e.type=='focus'?'3px solid '+c:0;};
 (mq=w.matchMedia('(max-width:479px)')).onchange=render;
 if(g=w.visualViewport)g.addEventListener('resize',render),g.addEventListener('scroll',render);
 render();
 d.documentElement.appendChild(host);
 (g=function(){L!=d.URL&&post('page',{url:L=d.URL,title:d.title,ref:d.referrer})})();setInterval(g,999);
 if(want)set(1);
 g=function(){(w.requestIdleCallback||setTimeout)(make);};
 d.readyState=='complete'?g():w.addEventListener('load',g);
}
w.addEventListener('message',function(e){
 var m=e.data,t=m&&m.fd===1&&m.type;
 if(!ifr||e.origin!==FD||e.source!==ifr.contentWindow)return;
 if(t=='ready')geo=m.css,post(),render(),open&&ifr.focus();
 if(t=='close')set(0);
 if(t=='message')emit(t,m.data);
 if(t=='launcher')T=[''+m.open,''+m.close],dot.textContent=m.badge,dot.style.cssText=m.css,P.setAttribute('d',m.icon),render();
 if(t=='identified'){
  for(i=0;i<m.warn.length;i++)console.warn(m.warn[i]);
  (t=cb[m.ref])&&(delete cb[m.ref],t(m.result));
 }
});
for(i=0;i<q.length;i++)api(q[i][0],q[i][1],q[i][2]);
api.fd=1;
w.Frontdesk=api;
x=new XMLHttpRequest();
x.open('GET',FD+'/api/widget/v1/sites/'+key+'/config?lang='+lang+'&x='+D.offsetX+'&y='+D.offsetY+'&consent='+D.consent);
x.responseType='json';
x.onloadend=function(r){
 r=x.response||{};
 x.status<300&&r.site?(cfg=r,start()):console.error('Frontdesk: '+(r.error?r.error.message:'HTTP '+x.status));
};
x.send();
})(window,document);
